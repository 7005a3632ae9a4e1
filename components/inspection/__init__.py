"""Quality inspection: camera frames scored by the defect model, rejects driven, decisions published."""

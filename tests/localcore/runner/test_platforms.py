"""localcore's platform table against the nucleus's platform resolver, quoted from its source.

Source: ``aws-greengrass/aws-greengrass-nucleus``,
``src/main/java/com/aws/greengrass/config/PlatformResolver.java``::

    private static String getArchInfo() {
        String arch = System.getProperty("os.arch").toLowerCase();
        if ("x86_64".equals(arch) || "amd64".equals(arch)) { return ARCH_AMD64; }   // "amd64"
        if ("i386".equals(arch) || "x86".equals(arch)) { return ARCH_X86; }         // "x86"
        if (arch.contains("arm")) { return ARCH_ARM; }                               // "arm"
        if ("aarch64".equals(arch)) { return ARCH_AARCH64; }                        // "aarch64"
        return UNKNOWN_KEYWORD;                                                      // "unknown"
    }
    private static String getArchDetailInfo() {
        String archDetail = Exec.sh("uname -m").toLowerCase();
        if ("armv6l".equals(archDetail) || "armv7l".equals(archDetail) || "armv8l".equals(archDetail)) {
            return archDetail;
        }
        return null;
    }

and ``getOSInfo``: ``"linux"`` when ``/proc`` exists. Keys: ``os``, ``architecture``,
``architecture.detail`` (``OS_KEY``, ``ARCHITECTURE_KEY``, ``ARCHITECTURE_DETAIL_KEY``).
"""

from __future__ import annotations

import pytest

from localcore.runner import platforms

# (Java os.arch, the nucleus's architecture), in getArchInfo's order of tests.
ARCH_INFO = [
    ("x86_64", "amd64"),
    ("amd64", "amd64"),
    ("i386", "x86"),
    ("x86", "x86"),
    ("arm", "arm"),
    ("armv7l", "arm"),
    ("arm64", "arm"),  # contains "arm": tested before "aarch64"
    ("aarch64", "aarch64"),
    ("riscv64", "unknown"),
]


@pytest.mark.parametrize(("os_arch", "architecture"), ARCH_INFO)
def test_architecture_follows_get_arch_info(os_arch: str, architecture: str) -> None:
    assert platforms.nucleus_architecture(os_arch) == architecture


@pytest.mark.parametrize(
    ("uname", "detail"),
    [("armv6l", "armv6l"), ("armv7l", "armv7l"), ("armv8l", "armv8l"), ("aarch64", None), ("x86_64", None)],
)
def test_architecture_detail_is_uname_m_for_32_bit_arm_only(uname: str, detail: str | None) -> None:
    assert platforms.nucleus_architecture_detail(uname) == detail


@pytest.mark.parametrize(
    ("uname", "reported"),
    [
        # What a Linux JVM says as os.arch where uname -m says this, through getArchInfo/getArchDetailInfo.
        ("x86_64", {"os": "linux", "architecture": "amd64"}),
        ("aarch64", {"os": "linux", "architecture": "aarch64"}),
        ("armv7l", {"os": "linux", "architecture": "arm", "architecture.detail": "armv7l"}),
        ("armv6l", {"os": "linux", "architecture": "arm", "architecture.detail": "armv6l"}),
        ("i686", {"os": "linux", "architecture": "x86"}),
    ],
)
def test_a_linux_device_reports_what_the_nucleus_reports(uname: str, reported: dict[str, str]) -> None:
    assert platforms.linux_platform(uname) == reported


def test_the_build_targets_are_the_nucleus_values() -> None:
    assert {name: m.platform for name, m in platforms.DEVICE_MACHINES.items()} == {
        "amd64": {"os": "linux", "architecture": "amd64"},
        "aarch64": {"os": "linux", "architecture": "aarch64"},
        "armv7l": {"os": "linux", "architecture": "arm", "architecture.detail": "armv7l"},
        "armv6l": {"os": "linux", "architecture": "arm", "architecture.detail": "armv6l"},
    }


def test_device_names_aliases_and_refusals() -> None:
    assert platforms.device_machine("x86_64") is platforms.DEVICE_MACHINES["amd64"]
    assert platforms.device_machine("ARM64") is platforms.DEVICE_MACHINES["aarch64"]
    with pytest.raises(ValueError, match=r"unknown architecture 'mips'; expected one of amd64, aarch64"):
        platforms.device_machine("mips")
    with pytest.raises(ValueError, match="ambiguous"):
        platforms.device_machine("arm")


def test_this_machine_is_described_in_the_nucleus_vocabulary() -> None:
    found = platforms.machine_platform()
    assert found["architecture"] in ("amd64", "aarch64", "arm", "x86", "unknown")
    assert found["architecture"] != "x86_64"

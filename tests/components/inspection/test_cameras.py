"""Each camera source: synthetic (ground truth), folder (PNG/JPEG, order, loop), OpenCV against a
video file the test writes, picamera2 where installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from components.inspection.cameras.factory import build_camera
from components.inspection.cameras.folder import FolderCamera
from components.inspection.cameras.opencv import OpenCvCamera
from components.inspection.cameras.parts import PartGenerator
from components.inspection.cameras.picamera import Picamera2Camera
from components.inspection.cameras.synthetic import SyntheticCamera
from components.inspection.config import (
    FolderCameraConfig,
    OpenCvCameraConfig,
    Picamera2CameraConfig,
    SyntheticCameraConfig,
)
from components.inspection.exceptions import CameraError, CameraExhaustedError, CameraUnavailableError


def test_synthetic_camera_renders_the_generators_parts_with_their_ground_truth() -> None:
    camera = SyntheticCamera(seed=11, defect_rate=0.5)
    generator = PartGenerator(11, 0.5)
    frames = [camera.read() for _ in range(20)]
    for frame in frames:
        part = generator.next()
        assert frame.index == part.index
        np.testing.assert_array_equal(frame.image, part.image)
        assert frame.defect == (part.defect or "")
        assert frame.defective is part.defective
    # With a defect rate of one half, both kinds show up in 20 parts.
    assert {f.defective for f in frames} == {True, False}


def _write_images(folder: Path) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (12, 16), dtype=np.uint8)
    rgb = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(gray).save(folder / "a-gray.png")
    Image.fromarray(rgb).save(folder / "b-rgb.png")
    # JPEG of noise loses most of it: a smooth gradient survives.
    y, x = np.mgrid[0:12, 0:16]
    smooth = np.stack([x * 15, y * 20, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    Image.fromarray(smooth).save(folder / "c-rgb.jpg", quality=95)
    (folder / "notes.txt").write_text("not an image")
    return [gray, rgb, smooth]


def test_folder_camera_reads_png_and_jpeg_in_name_order_and_loops(tmp_path: Path) -> None:
    expected = _write_images(tmp_path)
    camera = FolderCamera(tmp_path, loop=True)
    camera.open()
    frames = [camera.read() for _ in range(5)]
    assert [f.name for f in frames] == ["a-gray.png", "b-rgb.png", "c-rgb.jpg", "a-gray.png", "b-rgb.png"]
    np.testing.assert_array_equal(frames[0].image, expected[0])
    np.testing.assert_array_equal(frames[1].image, expected[1])
    # JPEG is lossy: close, not equal.
    assert frames[2].image.shape == (12, 16, 3)
    assert np.abs(frames[2].image.astype(int) - expected[2].astype(int)).mean() < 12
    assert frames[0].defective is None  # no ground truth from files


def test_folder_camera_without_loop_ends(tmp_path: Path) -> None:
    _write_images(tmp_path)
    camera = build_camera(FolderCameraConfig(path=str(tmp_path), loop=False))
    for _ in range(3):
        camera.read()
    with pytest.raises(CameraExhaustedError, match="all 3 images read"):
        camera.read()


def test_folder_camera_errors_name_the_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailableError, match="does not exist"):
        FolderCamera(tmp_path / "missing").open()
    with pytest.raises(CameraUnavailableError, match="has no image files"):
        FolderCamera(tmp_path).open()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    camera = FolderCamera(tmp_path)
    camera.open()
    with pytest.raises(CameraError, match=r"none of 1 files can be decoded"):
        camera.read()


def test_a_bad_file_is_skipped_not_a_camera_failure(tmp_path: Path) -> None:
    expected = _write_images(tmp_path)
    (tmp_path / "b-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    camera = FolderCamera(tmp_path, loop=True)
    names = [camera.read().name for _ in range(4)]
    assert names == ["a-gray.png", "b-rgb.png", "c-rgb.jpg", "a-gray.png"]
    assert camera.skipped == 1
    assert expected


needs_cv2 = pytest.mark.skipif(
    importlib.util.find_spec("cv2") is None, reason="OpenCV (the 'camera' extra) is not installed"
)


@needs_cv2
def test_opencv_camera_reads_a_video_file_the_test_wrote(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "line.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (32, 24))
    assert writer.isOpened()
    for i in range(6):
        image = np.zeros((24, 32, 3), dtype=np.uint8)
        image[:, :, 2] = 40 * i  # red in BGR: grows frame by frame
        writer.write(image)
    writer.release()

    camera = build_camera(OpenCvCameraConfig(device=str(path)))
    assert isinstance(camera, OpenCvCamera)
    camera.open()
    frames = [camera.read() for _ in range(6)]
    assert [f.index for f in frames] == list(range(6))
    for i, frame in enumerate(frames):
        assert frame.image.shape == (24, 32, 3) and frame.image.dtype == np.uint8
        # Handed on as RGB: the red channel is channel 0 (MJPEG is lossy).
        assert abs(float(frame.image[:, :, 0].mean()) - 40 * i) < 6
        assert float(frame.image[:, :, 2].mean()) < 6
    with pytest.raises(CameraExhaustedError, match="ended after 6 frames"):
        camera.read()
    camera.close()
    camera.close()  # twice is fine


@needs_cv2
def test_opencv_camera_that_cannot_open_says_which_device(tmp_path: Path) -> None:
    camera = OpenCvCamera(str(tmp_path / "no-such-video.avi"))
    with pytest.raises(CameraUnavailableError, match=r"no-such-video\.avi"):
        camera.open()


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None, reason="picamera2 is installed")
def test_picamera2_where_not_installed_is_a_clear_error() -> None:
    camera = build_camera(Picamera2CameraConfig())
    assert isinstance(camera, Picamera2Camera)
    with pytest.raises(CameraUnavailableError, match="needs the picamera2 package"):
        camera.open()


def test_the_factory_builds_the_synthetic_camera_by_default() -> None:
    camera = build_camera(SyntheticCameraConfig(seed=3, defect_rate=0.0))
    assert camera.read().defective is False


def test_picamera2_camera_with_a_fake_library(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    started: list[dict[str, object]] = []

    class FakePicamera2:
        """picamera2.Picamera2's calls the source makes, with libcamera's BGR byte order."""

        def create_video_configuration(self, main: dict[str, object]) -> dict[str, object]:
            return {"main": main}

        def configure(self, config: dict[str, object]) -> None:
            started.append(config)

        def start(self) -> None:
            pass

        def capture_array(self, stream: str) -> np.ndarray:
            width, height = started[-1]["main"]["size"]  # type: ignore[index]
            frame = np.zeros((height, width, 3), dtype=np.uint8)
            frame[:, :, 0] = 200  # blue first in memory ("RGB888" is BGR)
            return frame

        def stop(self) -> None:
            started.append({"stopped": True})

        def close(self) -> None:
            pass

    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    camera = Picamera2Camera(width=32, height=24)
    camera.open()
    frame = camera.read()
    assert started[0] == {"main": {"size": (32, 24), "format": "RGB888"}}
    assert frame.image.shape == (24, 32, 3)
    assert frame.image[0, 0].tolist() == [0, 0, 200]  # handed on as RGB: blue last
    camera.close()
    assert started[-1] == {"stopped": True}

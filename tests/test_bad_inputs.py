"""Every bad input meets one clear line and a non-zero exit, or is handled correctly.

Each test drives the CLI (``neural_style.cli.main.main``) with full-size VGG19 weights of
fixed random values, asserting the exit code, the one-line message, that no traceback
is printed, and what the output folder holds.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Any, List, Optional, Protocol, Tuple

import numpy as np
import pytest
from PIL import Image

from neural_style import cli
from neural_style._mxnet import mx
from neural_style.engine.graph import StyleGraph
from neural_style.errors import ExitCode
from neural_style.io import files
from tests.helpers import cpu_run, write_image

Run = Tuple[int, str, str]


class Runner(Protocol):
    def __call__(self, content: Path, style: Optional[Path] = None, *extra: str) -> Run: ...


@pytest.fixture()
def run(tmp_path: Path, vgg19_random_npz: Path, capsys: pytest.CaptureFixture[str]) -> Runner:
    """``run(content, style, *extra) -> (exit code, stdout, stderr)``; outputs in tmp/out."""

    def call(content: Path, style: Optional[Path] = None, *extra: str) -> Run:
        style = style or write_image(tmp_path / "style_default.png", (40, 40), seed=9)
        settings = dict(max_long_edge=32, max_num_epochs=2, save_epochs=1, seed=0)
        folder = tmp_path / "out"
        args = [*cpu_run(content, style, vgg19_random_npz, folder, **settings), *extra]
        code = cli.main(args)
        out, err = capsys.readouterr()
        return code, out, err

    return call


def out_files(tmp_path: Path) -> List[str]:
    folder = tmp_path / "out"
    return (
        sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        if folder.is_dir()
        else []
    )


def assert_fails(result: Run, *fragments: str, code: int = ExitCode.FAILURE) -> str:
    exit_code, out, err = result
    assert exit_code == code, err
    assert "Traceback" not in err and out == ""
    errors = [line for line in err.strip().splitlines() if "error:" in line]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err
    for fragment in fragments:
        assert fragment in errors[0]
    return errors[0]


def assert_works(result: Run, tmp_path: Path) -> None:
    exit_code, out, err = result
    assert exit_code == 0, err
    assert "Traceback" not in err
    assert out_files(tmp_path) == ["e_1.jpg", "e_2.jpg", "final.jpg"]
    assert out.strip().splitlines()[-1] == str(tmp_path / "out" / "final.jpg")


# ---- images that cannot be used -------------------------------------------------------


def test_missing_file(tmp_path: Path, run: Runner) -> None:
    assert_fails(run(tmp_path / "nope.jpg"), "nope.jpg: no such file")
    assert out_files(tmp_path) == []


def test_directory_instead_of_file(tmp_path: Path, run: Runner) -> None:
    # A folder is a batch of the images in it (see tests/cli/test_batch.py); one without images:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "notes.txt").write_text("no images here")
    code, out, err = run(tmp_path / "photos")
    assert code == ExitCode.USAGE and "Traceback" not in err and out == ""
    assert err.strip().splitlines()[-1] == (
        f"neural-style: error: --content-image: no images in "
        f"folder {tmp_path / 'photos'} (see neural-style --help)"
    )


def test_no_read_permission(tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # As root (CI), chmod cannot deny reading: make the open fail the way it would.
    path = write_image(tmp_path / "locked.png")

    def denied(fp: Any, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(fp))

    monkeypatch.setattr(Image, "open", denied)
    assert_fails(run(path), "locked.png: no permission to read it")


def test_empty_file(tmp_path: Path, run: Runner) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert_fails(run(tmp_path / "empty.jpg"), "empty.jpg: not an image format", "JPEG or PNG")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image(tmp_path: Path, run: Runner, suffix: str) -> None:
    whole = write_image(tmp_path / f"whole{suffix}", (200, 150))
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert_fails(run(cut), f"cut{suffix}: cannot decode the image", "is the file complete?")
    assert out_files(tmp_path) == []


def test_text_file_named_jpg(tmp_path: Path, run: Runner) -> None:
    (tmp_path / "notes.jpg").write_text("shopping list\n")
    assert_fails(run(tmp_path / "notes.jpg"), "notes.jpg: not an image format")


def test_unsupported_format(tmp_path: Path, run: Runner) -> None:
    (tmp_path / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert_fails(
        run(tmp_path / "logo.svg"),
        "logo.svg: not an image format this tool reads",
        "convert it to JPEG or PNG",
    )


@pytest.mark.parametrize(
    "size, fragment", [((1, 1), "1x1 pixels is too small"), ((40, 10), "40x10 pixels is too small")]
)
def test_too_small(tmp_path: Path, run: Runner, size: tuple, fragment: str) -> None:
    path = write_image(tmp_path / "tiny.png", size)
    assert_fails(run(path), fragment, "minimum is 16x16")


def test_too_thin_at_this_size(tmp_path: Path, run: Runner) -> None:
    path = write_image(tmp_path / "panorama.png", (400, 40))
    assert_fails(
        run(path),
        "at --max-long-edge 32 its short side would be 3 pixels",
        "raise --max-long-edge to at least 160",
        code=ExitCode.USAGE,  # the image is fine: the setting cannot work for it
    )


def test_decompression_bomb(tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image(tmp_path / "bomb.png", (100, 100))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 100x100 is then over twice the limit
    assert_fails(run(path), "bomb.png: refused as a possible decompression bomb")


# ---- odd but valid images: handled -----------------------------------------------------


@pytest.mark.parametrize(
    "mode, suffix",
    [
        ("L", ".png"),
        ("LA", ".png"),
        ("RGBA", ".png"),
        ("P", ".png"),
        ("CMYK", ".jpg"),
        ("I;16", ".png"),
    ],
)
def test_any_pixel_mode(tmp_path: Path, run: Runner, mode: str, suffix: str) -> None:
    path = write_image(tmp_path / f"odd{suffix}", mode=mode)
    with Image.open(path) as img:
        assert img.mode == mode or (mode == "I;16" and img.mode.startswith("I"))
    assert_works(run(path), tmp_path)


def test_float_tiff(tmp_path: Path, run: Runner) -> None:
    import tifffile

    rgb = np.random.default_rng(0).random((32, 48, 3)).astype(np.float32)
    tifffile.imwrite(tmp_path / "float.tif", rgb)
    grey = Image.fromarray(rgb[:, :, 0], mode="F")
    grey.save(tmp_path / "grey_float.tif")
    assert_works(run(tmp_path / "float.tif"), tmp_path)
    assert_works(run(tmp_path / "grey_float.tif"), tmp_path)


def test_exif_rotated_phone_photo(tmp_path: Path, run: Runner) -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 64, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated by 90 degrees: portrait
    img.save(tmp_path / "phone.jpg", exif=exif)
    assert_works(run(tmp_path / "phone.jpg"), tmp_path)
    with Image.open(tmp_path / "out" / "final.jpg") as final:
        assert final.size == (20, 32)  # portrait, as a viewer shows it


def test_animated_gif_uses_the_first_frame(tmp_path: Path, run: Runner) -> None:
    frames = [Image.new("RGB", (48, 32), colour) for colour in ("red", "green", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    result = run(tmp_path / "anim.gif")
    assert_works(result, tmp_path)
    assert "anim.gif: has 3 frames; using the first" in result[2]


def test_huge_image_is_shrunk_while_loading(tmp_path: Path, run: Runner) -> None:
    from neural_style.io.images import load_rgb

    y, x = np.mgrid[0:3000, 0:4000]
    big = np.stack([(x // 16) % 256, (y // 16) % 256, ((x + y) // 32) % 256], -1).astype(np.uint8)
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=80)
    assert max(load_rgb(tmp_path / "big.jpg", max_edge=32).shape) < 4 * 32  # not 4000x3000
    assert_works(run(tmp_path / "big.jpg"), tmp_path)


def test_paths_with_spaces_and_non_ascii(tmp_path: Path, run: Runner) -> None:
    folder = tmp_path / "my photos" / "été"
    folder.mkdir(parents=True)
    path = write_image(folder / "chat noir ü.png")
    out = tmp_path / "out" / "résultat final.png"
    code, stdout, err = run(path, None, "--output", str(out))
    assert code == 0, err
    assert stdout.strip().splitlines()[-1] == str(out) and out.is_file()


def test_inputs_are_never_written(tmp_path: Path, run: Runner) -> None:
    content = write_image(tmp_path / "c.png")
    style = write_image(tmp_path / "s.png", (40, 40), seed=3)
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (content, style)]
    stamps = [p.stat().st_mtime_ns for p in (content, style)]
    assert run(content, style)[0] == 0
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in (content, style)] == before
    assert [p.stat().st_mtime_ns for p in (content, style)] == stamps


# ---- options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--content-weight", "-1"], "--content-weight: must be 0 or from 1e-12 to 1e12, not -1"),
        (["--style-weight", "inf"], "--style-weight: must be 0 or from 1e-12 to 1e12, not inf"),
        (["--tv-weight", "nan"], "--tv-weight: must be 0 or from 1e-12 to 1e12, not nan"),
        (["--content-weight", "0", "--style-weight", "0"], "nothing to optimise"),
        (["--stop-eps", "-0.1"], "--stop-eps: must be in (0, 1], not -0.1"),
        (["--max-long-edge", "15"], "--max-long-edge: must be from 16 to 26754, not 15"),
        (["--output", "x.gif2"], "unknown output extension '.gif2'"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, run: Runner, extra: List[str], fragment: str) -> None:
    code, out, err = run(write_image(tmp_path / "c.png"), None, *extra)
    assert code == ExitCode.USAGE and fragment in err and "Traceback" not in err
    assert out_files(tmp_path) == []


def test_missing_output_folder_is_created(tmp_path: Path, run: Runner) -> None:
    out = tmp_path / "new" / "deeper" / "final.png"
    code, _, err = run(write_image(tmp_path / "c.png"), None, "--output", str(out))
    assert code == 0, err
    assert out.is_file()


def test_unwritable_output_fails_before_loading_weights(tmp_path: Path, run: Runner) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    line = assert_fails(
        run(
            write_image(tmp_path / "c.png"),
            None,
            "--output",
            str(blocker / "final.jpg"),
            "--weights",
            str(tmp_path / "none.npz"),
        ),
        f"cannot create this folder: {blocker} is a file",
        code=ExitCode.USAGE,
    )
    assert "weights" not in line  # the output was checked first


def test_output_equal_to_input_is_refused(tmp_path: Path, run: Runner) -> None:
    content = write_image(tmp_path / "c.png")
    before = content.read_bytes()
    assert_fails(
        run(content, None, "--output", str(content)),
        "would overwrite an input image",
        code=ExitCode.USAGE,
    )
    assert content.read_bytes() == before


# ---- weights ---------------------------------------------------------------------------


def test_weights_missing(tmp_path: Path, run: Runner) -> None:
    assert_fails(
        run(write_image(tmp_path / "c.png"), None, "--weights", str(tmp_path / "w.params")),
        "VGG19 weights not found",
        "neural-style-weights",
    )


def test_weights_truncated(tmp_path: Path, run: Runner, vgg19_random_npz: Path) -> None:
    cut = tmp_path / "cut.npz"
    cut.write_bytes(vgg19_random_npz.read_bytes()[:100_000])
    assert_fails(
        run(write_image(tmp_path / "c.png"), None, "--weights", str(cut)),
        "cut.npz: not a readable .npz file",
    )


def test_weights_wrong_type(tmp_path: Path, run: Runner) -> None:
    fake = tmp_path / "w.params"
    fake.write_bytes(b"<html>404 Not Found</html>")
    assert_fails(
        run(write_image(tmp_path / "c.png"), None, "--weights", str(fake)),
        "w.params: not a readable MXNet .params file",
    )


def test_weights_wrong_shapes(tmp_path: Path, run: Runner) -> None:
    from tests.helpers import TINY, random_weights

    np.savez(tmp_path / "tiny.npz", **random_weights(TINY))
    assert_fails(
        run(write_image(tmp_path / "c.png"), None, "--weights", str(tmp_path / "tiny.npz")),
        "tiny.npz: not VGG19 weights",
        "expected (64, 3, 3, 3)",
    )


# ---- runtime ---------------------------------------------------------------------------


def test_divergence(tmp_path: Path, run: Runner) -> None:
    code, out, err = run(
        write_image(tmp_path / "c.png"),
        None,
        "--lr",
        "1e4",
        "--tv-weight",
        "0",
        "--max-num-epochs",
        "50",
        "--save-epochs",
        "0",
    )
    assert code == ExitCode.FAILURE and "Traceback" not in err
    assert "diverged at epoch" in err and "Try a lower --lr" in err
    assert out_files(tmp_path) == ["final.diverged.jpg"]  # the last finite image, not as a result


def test_out_of_memory(tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_memory(*args: object, **kwargs: object) -> None:
        raise mx.base.MXNetError(
            "[12:00:00] src/storage/./cpu_device_storage.h:72: "
            "Failed to allocate CPU Memory: std::bad_alloc"
        )

    monkeypatch.setattr(StyleGraph, "__init__", no_memory)
    assert_fails(
        run(write_image(tmp_path / "c.png")),
        "out of memory on cpu(0) at 32x21 pixels",
        "try --max-long-edge ",
    )
    assert out_files(tmp_path) == []


def test_disk_full_keeps_the_previous_result(
    tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = write_image(tmp_path / "c.png")
    assert run(content)[0] == 0
    final = tmp_path / "out" / "final.jpg"
    before = final.read_bytes()
    real_write_all = files.write_all

    def full_on_final(fd: int, data: bytes) -> None:  # the disk fills while final.jpg is written
        if ".final.jpg." in os.readlink(f"/proc/self/fd/{fd}"):
            os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(files, "write_all", full_on_final)
    assert_fails(
        run(content, None, "--seed", "5"),
        "final.jpg: cannot write the image",
        "No space left on device",
    )
    assert final.read_bytes() == before
    assert out_files(tmp_path) == ["e_1.jpg", "e_2.jpg", "final.jpg"]


def test_ctrl_c_during_a_snapshot_write(
    tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write_all = files.write_all

    def interrupted(fd: int, data: bytes) -> None:
        if ".e_2.jpg." in os.readlink(f"/proc/self/fd/{fd}"):
            os.write(fd, b"half a jpeg")
            raise KeyboardInterrupt
        real_write_all(fd, data)

    monkeypatch.setattr(files, "write_all", interrupted)
    code, out, err = run(write_image(tmp_path / "c.png"), None, "--max-num-epochs", "5")
    assert code == ExitCode.INTERRUPTED and "Traceback" not in err
    assert out_files(tmp_path) == ["e_1.jpg", "final.interrupted.jpg"]  # no half-written e_2.jpg
    assert out.strip() == str(tmp_path / "out" / "final.interrupted.jpg")


def test_traceback_on_request(tmp_path: Path, vgg19_random_npz: Path) -> None:
    from neural_style.errors import ImageError

    with pytest.raises(ImageError):
        cli.main(
            [
                "--content-image",
                str(tmp_path / "nope.jpg"),
                "--style-image",
                "s.jpg",
                "--output-dir",
                str(tmp_path / "out"),
                "--traceback",
            ]
        )

"""Weight discovery: explicit folders, environment variables, the Hugging Face cache layout."""

import pytest

from stable_cascade_c import weights


def _fake_snapshot(cache, repo, rev="abc123"):
    root = cache / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / rev
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(rev)
    return snap


def test_explicit_folder_wins(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.ENV_PRIOR, "/nonexistent")
    assert weights.resolve_repo(str(tmp_path), "prior") == str(tmp_path)


def test_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.ENV_DECODER, str(tmp_path))
    assert weights.resolve_repo(None, "decoder") == str(tmp_path)


def test_hf_cache_layout_is_searched_offline(tmp_path, monkeypatch):
    monkeypatch.delenv(weights.ENV_PRIOR, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    snap = _fake_snapshot(tmp_path / "hub", weights.PRIOR_REPO)
    assert weights.resolve_repo(None, "prior", allow_download=False) == str(snap)
    monkeypatch.setenv(weights.ENV_PRIOR, "stabilityai/stable-cascade-prior")
    assert weights.resolve_repo(None, "prior", allow_download=False) == str(snap)


def test_missing_model_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.delenv(weights.ENV_DECODER, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        weights.resolve_repo(None, "decoder", allow_download=False)
    msg = str(err.value)
    assert "stabilityai/stable-cascade" in msg and weights.ENV_DECODER in msg and str(tmp_path) in msg


def test_download_asks_only_for_the_variant_files(tmp_path, monkeypatch):
    calls = []

    class FakeHub:
        @staticmethod
        def snapshot_download(repo_id, allow_patterns, cache_dir):
            calls.append((repo_id, allow_patterns, cache_dir))
            return str(tmp_path / "downloaded")

    monkeypatch.setitem(__import__("sys").modules, "huggingface_hub", FakeHub)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv(weights.ENV_PRIOR, raising=False)
    got = weights.resolve_repo(None, "prior", lite=True, variant="bf16")
    assert got == str(tmp_path / "downloaded")
    repo, pats, _ = calls[0]
    assert repo == weights.PRIOR_REPO
    assert "prior_lite/*.bf16.safetensors" in pats and "text_encoder/*.bf16.safetensors" in pats
    assert not any(p.startswith("image_encoder") for p in pats)
    assert not any(p.startswith("prior/") for p in pats)


def test_nonexistent_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        weights.resolve_repo(str(tmp_path / "missing" / "dir"), "prior")

"""A broken catalog entry fails its own resource's steps only, with the loader's message."""

from __future__ import annotations

import shutil

import pytest

from jobs.errors import CatalogError
from jobs.settings import BUILTIN_CATALOG, Settings
from jobs.steps.runtime import cached_catalog, runtime


@pytest.fixture
def broken_next_to_real(tmp_path):
    extra = tmp_path / "extra"
    (extra / "market_regulation").mkdir(parents=True)
    shutil.copy(BUILTIN_CATALOG / "market_regulation" / "market_entities.yaml",
                extra / "market_regulation" / "market_entities_copy.yaml")
    text = (extra / "market_regulation" / "market_entities_copy.yaml").read_text(encoding="utf-8")
    (extra / "market_regulation" / "market_entities_copy.yaml").write_text(
        text.replace("name: market_entities", "name: market_entities_copy", 1).replace("  - name:", "  - nme:", 1),
        encoding="utf-8")
    (extra / "market_regulation" / "broken_yaml.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    return Settings(home=tmp_path / "home", catalog_dirs=(BUILTIN_CATALOG, extra))


def test_other_resources_load_and_each_broken_one_fails_with_its_own_file(broken_next_to_real):
    rt = runtime(broken_next_to_real)
    assert rt.resource("market_entities").name == "market_entities"
    assert rt.resource("citizen_appeals").provider == "network_governance"
    with pytest.raises(CatalogError, match="broken_yaml.yaml.*not valid YAML"):
        rt.resource("broken_yaml")
    with pytest.raises(CatalogError) as caught:
        rt.resource("market_entities_copy")
    assert "market_entities_copy.yaml" in str(caught.value)
    with pytest.raises(CatalogError, match="no such resource"):
        rt.resource("not_in_any_file")


def test_the_catalog_is_parsed_again_only_when_a_file_changes(broken_next_to_real):
    dirs = broken_next_to_real.catalog_dirs
    first = cached_catalog(dirs)
    assert cached_catalog(dirs) is first
    (dirs[1] / "market_regulation" / "broken_yaml.yaml").write_text("name: still [broken\n", encoding="utf-8")
    assert cached_catalog(dirs) is not first

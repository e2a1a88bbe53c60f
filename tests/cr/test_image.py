"""The checkpoint image: JSON round trips and queries."""

from __future__ import annotations

import json

import pytest

from simkernel.cr import CONTENTS_ALL, Image, dump, sim_parasite
from simkernel.cr.image import FORMAT, HOW_IMPOSSIBLE, CredImage, TaskImage, VmaImage
from tests.cr.conftest import SCENARIO_DIR as D
from tests.cr.scenarios import SCENARIOS


@pytest.mark.parametrize("name", ["forked", "deleted", "mixed_creds"])
def test_image_json_round_trip(k, criu, name):
    """to_json/from_json give back an equal image, bytes included (as base64)."""
    image = dump(criu, SCENARIOS[name](k, D).pid, parasite=sim_parasite(k), contents=CONTENTS_ALL)
    text = image.to_json(indent=1)
    assert Image.from_json(text) == image
    assert json.loads(text)["format"] == FORMAT


def test_image_from_json_rejects_other_format():
    """An image of another format version is refused."""
    text = Image(source="s", lookup="map_files", tasks=[], files=[]).to_json()
    with pytest.raises(ValueError, match="format"):
        Image.from_json(text.replace(f'"format": {FORMAT}', '"format": 99'))


def test_image_queries(k, criu):
    """file() by id (KeyError otherwise), shared_groups(), impossible() and restorable."""
    image = dump(criu, SCENARIOS["memfd"](k, D).pid)
    (f,) = image.files
    assert image.file(f.id) is f and list(image.shared_groups()) == [f.id]
    with pytest.raises(KeyError):
        image.file("nope")
    assert image.impossible() == [] and image.restorable
    cred = CredImage(uid=(0,) * 4, gid=(0,) * 4, groups=(), cap_inheritable=0, cap_permitted=0,
                     cap_effective=0, cap_bset=0, cap_ambient=0)
    bad = VmaImage(0x1000, 0x2000, 0, False, 0, f.id, None, HOW_IMPOSSIBLE, note="lost")
    task = TaskImage(pid=9, ppid=1, comm="x", cred=cred, dumpable=1, dumpable_source="proc-owner", threads=1,
                     access="ok", vmas=[bad])
    broken = Image(source="s", lookup="map_files", tasks=[task], files=image.files)
    assert broken.impossible() == [(9, bad)] and not broken.restorable

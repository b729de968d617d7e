from __future__ import annotations

import pytest

from intake.clusters import same_matter
from intake.model import Field

POTHOLE = {Field.ADDRESS: "和平路12号", Field.CONTENT: "和平路12号门口的马路上有个大坑，晚上骑车很危险"}


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        (
            {
                Field.ADDRESS: "和平路12号",
                Field.CONTENT: "我要反映：和平路12号门口路面有一个深坑，好几个人摔倒了",
            },
            True,
        ),
        (
            {Field.ADDRESS: "和平路 12 号", Field.CONTENT: "和平路12號前面的路壞了一個大坑"},
            True,
        ),  # spaces, traditional
        (
            {Field.ADDRESS: "和平路12号", Field.CONTENT: "和平路12号的KTV每天半夜唱歌，吵得睡不着"},
            False,
        ),  # same place, other matter
        (
            {Field.ADDRESS: "和平路15号", Field.CONTENT: "和平路15号门口的马路上有个大坑"},
            False,
        ),  # same matter, other place
        ({Field.CONTENT: "门口马路上有个大坑"}, False),  # no place: never linked
    ],
)
def test_the_same_place_and_matter_link_and_nothing_else_does(
    other: dict[Field, str], expected: bool
) -> None:
    assert same_matter(POTHOLE, other) is expected

"""Class names and label numbers of the paper's Table 3, and how folder names map onto them.

The dataset tree is ``<split>/<agent|customer>/<female|male>/<speakerId>/<n>.npy``; a window's
label comes from its role and gender folders only, so the same tree serves 2 and 4 classes.
"""

from __future__ import annotations

from callroles.base.errors import InputError
from callroles.call import roles

ROLES = ("customer", "agent")
GENDERS = ("female", "male")
CLASSES_2 = ["customer", "agent"]
CLASSES_4 = ["female_customer", "male_customer", "female_agent", "male_agent"]


class LabelError(InputError):
    """A folder name or class count outside the paper's Table 3."""

    code = "bad_label"
    stage = "training"


def class_names(n_classes: int) -> list[str]:
    """The class names for 2 or 4 classes, in label-number order (Table 3)."""
    if n_classes == 2:
        return list(CLASSES_2)
    if n_classes == 4:
        return list(CLASSES_4)
    raise LabelError(f"classes must be 2 or 4 (the paper's Table 3), got {n_classes}")


def label_of(role: str, gender: str, n_classes: int) -> int:
    """Label number of a window from its role and gender folder names."""
    if role not in ROLES:
        raise LabelError(f"role folder must be one of {ROLES}, got {role!r}")
    if gender not in GENDERS:
        raise LabelError(f"gender folder must be one of {GENDERS}, got {gender!r}")
    if n_classes == 2:
        return ROLES.index(role)
    class_names(n_classes)
    return CLASSES_4.index(f"{gender}_{role}")


def role_of(label: int, n_classes: int) -> str:
    """The role ("customer" or "agent") a label number stands for (callroles.call.roles decides)."""
    return roles.role_of(class_names(n_classes)[label])

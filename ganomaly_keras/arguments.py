"""Checks on scalar arguments, shared by the Python API and the command line.

Every public function and constructor of this package checks its numbers, fractions
and choices here before doing any work, so a bad value fails at once with a
`ValueError` that names the argument, the value and what is accepted, and nothing is
written. The command line uses the same checks as `argparse` types (`cli_type`), so
`ganomaly-keras train --batch-size 0` ends with one `ganomaly-keras: error:` line.
"""

import math
import numbers


def _is_integer(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, float) and value.is_integer()


def integer(name, value, minimum=None, maximum=None):
    """`value` as an int, if it is a whole number in `[minimum, maximum]`.

    Args:
        name: the argument's name, for the message.
        value: the value to check (an int, or a float with no fraction).
        minimum, maximum: optional inclusive bounds.

    Returns:
        `int(value)`.

    Raises:
        ValueError: naming `name`, the value and the accepted range.
    """
    wanted = _integer_text(minimum, maximum)
    if not _is_integer(value):
        raise ValueError(f"{name} must be {wanted}; got {value!r}.")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {wanted}; got {value}.")
    return value


def positive_integer(name, value):
    """`integer(name, value, minimum=1)`."""
    return integer(name, value, minimum=1)


def number(name, value, minimum=None, maximum=None, exclusive_minimum=False,
           exclusive_maximum=False):
    """`value` as a finite float within the given bounds.

    Args:
        name: the argument's name, for the message.
        value: an int or float; NaN and infinities are refused.
        minimum, maximum: optional bounds, inclusive unless `exclusive_*`.

    Returns:
        `float(value)`.

    Raises:
        ValueError: naming `name`, the value and the accepted range.
    """
    low = "(" if exclusive_minimum else "["
    high = ")" if exclusive_maximum or maximum is None else "]"
    wanted = (
        f"in {low}{'-inf' if minimum is None else _g(minimum)}, "
        f"{'inf' if maximum is None else _g(maximum)}{high}"
        if minimum is not None or maximum is not None else "a finite number"
    )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number {wanted.replace('a finite number', '')}"
                         .rstrip() + f"; got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        finite = "" if wanted == "a finite number" else " (finite)"
        raise ValueError(f"{name} must be {wanted}{finite}; got {value!r}.")
    too_low = minimum is not None and (
        value <= minimum if exclusive_minimum else value < minimum
    )
    too_high = maximum is not None and (
        value >= maximum if exclusive_maximum else value > maximum
    )
    if too_low or too_high:
        raise ValueError(f"{name} must be {wanted}; got {_g(value)}.")
    return value


def weight(name, value):
    """A loss or score weight: a finite number >= 0 (0 turns the term off)."""
    return number(name, value, minimum=0.0)


def fraction(name, value, allow_zero=True):
    """A share of a set: a finite number in [0, 1), or (0, 1) without `allow_zero`."""
    return number(name, value, minimum=0.0, maximum=1.0,
                  exclusive_minimum=not allow_zero, exclusive_maximum=True)


def seed(name, value):
    """A random seed: an integer in [0, 2**32 - 1] (NumPy's and TensorFlow's range)."""
    return integer(name, value, minimum=0, maximum=2**32 - 1)


def choice(name, value, choices):
    """`value` if it is one of `choices`, else a ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}.")
    return value


def _g(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _integer_text(minimum, maximum):
    if maximum is None and minimum in (0, 1):
        return "a positive integer" if minimum == 1 else "a non-negative integer"
    if minimum is not None and maximum is not None:
        return f"an integer in [{minimum}, {maximum}]"
    if minimum is not None:
        return f"an integer >= {minimum}"
    if maximum is not None:
        return f"an integer <= {maximum}"
    return "an integer"


def cli_type(check, parse=float, **bounds):
    """An `argparse` type: parses the text with `parse`, then runs `check`.

    The option's name is filled in by `argparse` ("argument --batch-size: ..."), so
    the message here names only the value and the range.

    Example:
    ```python
    parser.add_argument("--batch-size", type=cli_type(positive_integer, int))
    ```
    """
    import argparse

    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            value = text
        try:
            return check("the value", value, **bounds)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)[len("the value "):]) from None

    convert.__name__ = getattr(check, "__name__", "value")
    return convert


MIN_IMAGE_SIZE = 16


def validate_image_size(image_size):
    """Return `image_size` as an int if it is a power of two >= 16, else raise.

    The reference code hangs on other sizes (its "halve until 4x4" loop never
    ends); here the error names the sizes that work.
    """
    allowed = ", ".join(str(2**k) for k in range(4, 10)) + ", ..."
    if isinstance(image_size, bool) or not isinstance(image_size, (int,)):
        if not (isinstance(image_size, float) and image_size.is_integer()):
            raise ValueError(
                f"image_size must be an integer power of two >= {MIN_IMAGE_SIZE} "
                f"({allowed}); got {image_size!r}."
            )
    image_size = int(image_size)
    if image_size < MIN_IMAGE_SIZE or 2 ** int(math.log2(image_size)) != image_size:
        raise ValueError(
            f"image_size must be a power of two >= {MIN_IMAGE_SIZE} "
            f"({allowed}); got {image_size}. Resize your images to one of these sizes "
            "(the data pipelines of ganomaly_keras.data do this for you)."
        )
    return image_size

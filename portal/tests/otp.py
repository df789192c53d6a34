"""Codes of a TOTP device, as the partner's phone would show them."""

import time

from django_otp.oath import TOTP


def code(device, steps_ahead: int = 0) -> str:
    """The device's code now, or `steps_ahead` 30-second steps later (a code is accepted once: the next
    log-in in the same step uses the next code, which the device's tolerance accepts)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"

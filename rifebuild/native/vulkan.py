"""Is there a Vulkan device here? Decides whether the workflow verifies the -vulkan build (and whether
the GPU tests run or, with CI=true, fail).

Asked through the system's Vulkan loader (libvulkan.so.1) the way rife-bench's own loader sees it:
create an instance, count the physical devices. In a child process, so a broken driver that crashes
on enumeration cannot take the workflow down with it.
"""
from __future__ import annotations

import ctypes
import functools
import os
import subprocess
import sys

from rifebuild.core.errors import NativeError

VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO = 1


class _InstanceCreateInfo(ctypes.Structure):
    _fields_ = [("sType", ctypes.c_int), ("pNext", ctypes.c_void_p), ("flags", ctypes.c_uint32),
                ("pApplicationInfo", ctypes.c_void_p), ("enabledLayerCount", ctypes.c_uint32),
                ("ppEnabledLayerNames", ctypes.c_void_p), ("enabledExtensionCount", ctypes.c_uint32),
                ("ppEnabledExtensionNames", ctypes.c_void_p)]


def count_devices_here() -> int:
    """Vulkan physical devices this process sees (0 without a loader or a driver)."""
    try:
        vk = ctypes.CDLL("libvulkan.so.1")
    except OSError:
        return 0
    info = _InstanceCreateInfo(sType=VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO)
    instance = ctypes.c_void_p()
    if vk.vkCreateInstance(ctypes.byref(info), None, ctypes.byref(instance)) != 0:
        return 0
    count = ctypes.c_uint32(0)
    try:
        if vk.vkEnumeratePhysicalDevices(instance, ctypes.byref(count), None) != 0:
            return 0
        return int(count.value)
    finally:
        vk.vkDestroyInstance(instance, None)


@functools.cache
def count_devices() -> int:
    """count_devices_here() in a child process (0 if it crashes); asked once per process (the workflow
    asks for the verification and for the benchmark)."""
    code = "from rifebuild.native.vulkan import count_devices_here; print(count_devices_here())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        return int(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else 0
    except (ValueError, IndexError):
        return 0


def verify_on_vulkan(setting) -> bool:
    """native.vulkan.verify: true / false, or "auto" = when a device is present. With CI=true, "auto"
    without a device is an error: a CI run must not go green having skipped the GPU checks."""
    if setting in (True, False):
        return setting
    if count_devices() > 0:
        return True
    if os.environ.get("CI", "").lower() == "true":
        raise NativeError("native.vulkan.verify is auto but this machine has no Vulkan device, and CI=true requires "
                          "the GPU checks: install Mesa's lavapipe (Debian: mesa-vulkan-drivers libvulkan1) or set "
                          "native.vulkan.verify: false.")
    return False


def bench_devices(setting, host_vulkan_built: bool) -> list[int]:
    """bench.gpu.devices -> the Vulkan device indices the benchmark times. auto: every device here, when the
    run builds host-vulkan anyway (its verification, or native.targets): the benchmark alone never adds
    a half-hour libncnn build; a list is taken as it is."""
    if setting == "auto":
        return list(range(count_devices())) if host_vulkan_built else []
    return list(setting)

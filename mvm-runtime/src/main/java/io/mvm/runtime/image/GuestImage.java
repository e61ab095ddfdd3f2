package io.mvm.runtime.image;

import java.nio.file.Path;

/**
 * A bootable guest image: kernel, initramfs (loads the virtio modules, mounts the root drive) and
 * an immutable ext4 rootfs (busybox, guest init, guest agent). Attached read-only to every VM.
 *
 * @param kernelVersion e.g. {@code 6.1.0-50-cloud-amd64}, recorded so a rebuilt image can be pinned
 * @param bootArgs      kernel command line the image needs (console, root by label, TSC flags);
 *                      backends append per-instance arguments after it
 */
public record GuestImage(String name, Path kernel, Path initramfs, Path rootfs, String kernelVersion, String bootArgs) {}

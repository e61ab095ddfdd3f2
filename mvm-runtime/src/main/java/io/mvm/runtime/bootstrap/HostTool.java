package io.mvm.runtime.bootstrap;

/**
 * A program mvm needs on the host, and the Debian package that provides it.
 *
 * @param command       the executable looked up on PATH (and /usr/sbin, /sbin)
 * @param debianPackage what {@code apt-get install} needs to provide it
 * @param purpose       why mvm needs it, for messages
 */
public record HostTool(String command, String debianPackage, String purpose) {}

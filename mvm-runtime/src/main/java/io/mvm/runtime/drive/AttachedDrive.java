package io.mvm.runtime.drive;

import java.nio.file.Path;

/** A drive file as the VMM opens it, in the order the guest sees them. */
public record AttachedDrive(String id, Path file, boolean readOnly) {}

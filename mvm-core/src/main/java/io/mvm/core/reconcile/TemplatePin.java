package io.mvm.core.reconcile;

import io.mvm.model.MvmException;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The exact template revision the coordinator tells a node to boot for one instance, with every
 * file of it by digest, so a node that lacks it fetches those files and nothing is rebuilt per host.
 */
public record TemplatePin(String template, String revision, List<Artifact> artifacts) {
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /** One file: its role, its file name in the revision, size and sha256 (hex). */
    public record Artifact(String role, String path, long size, String sha256) {
        public Artifact {
            if (role == null || !NAME.matcher(role).matches() || path == null || !NAME.matcher(path).matches()) {
                throw MvmException.invalid("artifact role and path must be plain names, got '" + role + "' / '" + path + "'");
            }
            if (sha256 == null || !HEX.matcher(sha256).matches()) {
                throw MvmException.invalid("artifact " + path + " needs a sha256 of 64 lowercase hex digits");
            }
            if (size < 0) {
                throw MvmException.invalid("artifact " + path + " has a negative size");
            }
        }
    }

    public TemplatePin {
        Objects.requireNonNull(template, "template");
        if (revision == null || !HEX.matcher(revision).matches()) {
            throw MvmException.invalid("template revision must be 64 lowercase hex digits, got '" + revision + "'");
        }
        artifacts = List.copyOf(artifacts);
    }
}

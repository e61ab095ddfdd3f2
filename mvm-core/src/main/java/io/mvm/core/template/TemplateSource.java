package io.mvm.core.template;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where a template's root filesystem comes from: exactly one of three builders. Sealed, so every
 * place that builds or describes a source handles all three (a pattern switch fails to compile
 * when a fourth is added).
 */
public sealed interface TemplateSource {

    /** The TOML table name under {@code [source]}. */
    String kind();

    /**
     * An OCI image on this host: an image layout directory ({@code oci-layout}, {@code index.json},
     * {@code blobs/}) or an archive file (an OCI layout as a tar, or {@code docker save} output).
     *
     * @param ref the {@code org.opencontainers.image.ref.name} to pick when the index lists several
     */
    record Oci(Location location, Optional<String> ref) implements TemplateSource {
        public Oci {
            ref = ref == null ? Optional.empty() : ref;
        }

        @Override
        public String kind() {
            return "oci";
        }
    }

    /** An OCI image is given either as a layout directory or as one archive file. */
    sealed interface Location {
        String path();

        record LayoutDirectory(String path) implements Location {}

        record Archive(String path) implements Location {}
    }

    /**
     * A Debian root filesystem built with mmdebstrap.
     *
     * @param files guest path → host path of files copied into the root filesystem
     */
    record Debian(String suite, List<String> packages, Map<String, String> files) implements TemplateSource {
        public Debian {
            packages = List.copyOf(packages);
            files = Map.copyOf(files);
        }

        @Override
        public String kind() {
            return "debian";
        }
    }

    /** A Nix flake whose {@code tenant-<role>-<profile>} (or {@code tenant-<profile>}) output is the guest. */
    record Nix(String flake) implements TemplateSource {
        @Override
        public String kind() {
            return "nix";
        }
    }
}

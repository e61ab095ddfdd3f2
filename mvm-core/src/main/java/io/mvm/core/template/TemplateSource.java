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
     * An OCI image: an image layout directory on this host ({@code oci-layout}, {@code index.json},
     * {@code blobs/}), an archive file (an OCI layout as a tar, or {@code docker save} output), or a
     * registry reference.
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

    /**
     * An OCI image is given as a layout directory, as one archive file, or as a reference skopeo
     * copies from ({@code docker://registry/app:1.0}, or any other skopeo transport).
     */
    sealed interface Location {
        /** What the user wrote: a path, or a skopeo reference. */
        String text();

        record LayoutDirectory(String path) implements Location {
            @Override
            public String text() {
                return path;
            }
        }

        record Archive(String path) implements Location {
            @Override
            public String text() {
                return path;
            }
        }

        record Registry(String reference) implements Location {
            @Override
            public String text() {
                return reference;
            }
        }
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

package io.mvm.runtime.template;

import io.mvm.core.template.TemplateConfig;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.template.debian.DebianTemplateBuilder;
import io.mvm.runtime.template.nix.NixTemplateBuilder;
import io.mvm.runtime.template.oci.OciTemplateBuilder;
import io.mvm.runtime.template.oci.UnpackLimits;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Builds a template's variants on this host into its {@link TemplateStore}: the entry point for the
 * CLI's {@code mvm template build --on-host} and, later, for an agent asked to build. Each variant is
 * its own template in the store, named by the variant ({@code <template_id>-<role>} by default), as
 * in the seed's layout.
 *
 * <p>Every source kind has a builder; Debian and Nix builds run their authors' code as root on the
 * host, which is why the CLI asks for {@code --on-host}.
 */
public final class TemplateBuilds {
    private final Path dataDir;
    private final TemplateStore store;
    private final UnpackLimits limits;
    private final InstantSource clock;

    public TemplateBuilds(Path dataDir, InstantSource clock, UnpackLimits limits) {
        this.dataDir = dataDir.toAbsolutePath();
        this.clock = clock;
        this.store = new TemplateStore(this.dataDir, clock);
        this.limits = limits;
    }

    public TemplateStore store() {
        return store;
    }

    /**
     * @param configDir where relative paths in the template file are read from
     * @param role      only this role's variant; all variants when empty
     */
    public List<BuildOutcome> build(TemplateConfig config, Path configDir, Optional<Role> role, boolean force, ProgressListener progress) {
        List<TemplateVariant> variants = role.map(r -> List.of(config.variant(r))).orElse(config.variants());
        List<BuildOutcome> outcomes = new ArrayList<>();
        for (TemplateVariant variant : variants) {
            TemplateId id = new TemplateId(variant.name());
            BuildOutcome outcome = switch (config.source()) {
                case TemplateSource.Oci oci -> ociBuilder(progress).build(id, oci, configDir, variant, force, progress);
                case TemplateSource.Debian debian -> debianBuilder(progress).build(id, debian, configDir, variant, force, progress);
                case TemplateSource.Nix nix -> nixBuilder(progress).build(id, nix, configDir, variant, force, progress);
            };
            outcomes.add(outcome);
        }
        return outcomes;
    }

    private DebianTemplateBuilder debianBuilder(ProgressListener progress) {
        if (!onPath("mmdebstrap")) {
            throw MvmException.precondition("Debian templates are built with mmdebstrap: install it (apt-get install mmdebstrap)");
        }
        ImageBuilder.ensureDefaultImage(dataDir, progress);
        return new DebianTemplateBuilder(store, BaseImage.ofDefaultImage(dataDir), GuestAgentInjection.withHostBusybox(), clock,
                Duration.ofMinutes(30));
    }

    private NixTemplateBuilder nixBuilder(ProgressListener progress) {
        if (!onPath("nix")) {
            throw MvmException.precondition("Nix templates are built with nix: install it (apt-get install nix-bin)");
        }
        ImageBuilder.ensureDefaultImage(dataDir, progress);
        return new NixTemplateBuilder(store, BaseImage.ofDefaultImage(dataDir), GuestAgentInjection.withHostBusybox(),
                NixTemplateBuilder.HOST_OPTIONS, Duration.ofMinutes(60));
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (!dir.isBlank() && Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    private OciTemplateBuilder ociBuilder(ProgressListener progress) {
        // The default image supplies kernel and initramfs; built here if this host has none yet.
        ImageBuilder.ensureDefaultImage(dataDir, progress);
        return new OciTemplateBuilder(store, BaseImage.ofDefaultImage(dataDir), GuestAgentInjection.withHostBusybox(), limits,
                dataDir.resolve("templates").resolve(".scratch"));
    }
}

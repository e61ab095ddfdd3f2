package io.mvm.runtime.template.nix;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.model.Role;
import io.mvm.runtime.image.HostProgram;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.template.ArtifactProducer;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.BuildRequest;
import io.mvm.runtime.template.GuestAgentInjection;
import io.mvm.runtime.template.TemplateBuildException;
import io.mvm.runtime.template.TemplateStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Builds a template revision from a Nix flake: {@code nix build} of
 * {@code <flake>#packages.x86_64-linux.tenant-<role>-<profile>} when the flake has an
 * {@code mvm-profiles.toml} (whose {@code [profiles.<profile>]} and {@code [roles.<role>]} must
 * exist), else {@code <flake>#tenant-<profile>} (seed roles.md). The output is the guest's root
 * filesystem tree (or its {@code rootfs/} directory); its whole closure is copied under
 * {@code /nix/store} in the image, so links into the store resolve in the guest. mvm's guest side is
 * injected and {@code rootfs.ext4} written as for every builder.
 *
 * <p>The identity is the flake source's {@code narHash} ({@code nix flake metadata}), which covers
 * flake.nix, flake.lock and everything else in the flake.
 *
 * <p>A derivation runs its author's code; with {@link #HOST_OPTIONS} (what Debian's nix-bin needs
 * without a daemon or a nixbld group) it runs unsandboxed, as root: {@code --on-host} only.
 */
public final class NixTemplateBuilder {
    static final String FORMAT = "nix-builder 1";
    static final String SYSTEM = "x86_64-linux";
    /** Debian's nix-bin as root, no daemon, no build users, no binary cache (build-facts.md). */
    public static final List<String> HOST_OPTIONS = List.of("--extra-experimental-features", "nix-command flakes",
            "--option", "sandbox", "false", "--option", "build-users-group", "", "--option", "substituters", "");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TomlMapper TOML = new TomlMapper();

    private final TemplateStore store;
    private final BaseImage base;
    private final GuestAgentInjection injection;
    private final List<String> nixOptions;
    private final Duration timeout;

    public NixTemplateBuilder(TemplateStore store, BaseImage base, GuestAgentInjection injection, List<String> nixOptions, Duration timeout) {
        this.store = store;
        this.base = base;
        this.injection = injection;
        this.nixOptions = List.copyOf(nixOptions);
        this.timeout = timeout;
    }

    public BuildOutcome build(TemplateId template, TemplateSource.Nix source, Path relativeTo, TemplateVariant variant,
                              boolean force, ProgressListener progress) {
        String flake = flakeRef(source.flake(), relativeTo);
        String attribute = attribute(localFlakeDir(flake).map(dir -> dir.resolve("mvm-profiles.toml")).filter(Files::isRegularFile)
                .map(NixTemplateBuilder::readManifest), variant.role(), variant.profile());
        String narHash = narHash(flake);
        BuildRequest request = new BuildRequest(template, new SourceIdentity("nix", flake + "#" + attribute, narHash),
                variant.profile(), variant.role(), variant.vcpus(), variant.memMib(), variant.dataDiskMib(), recipe());
        return store.build(request, staging -> produce(flake, attribute, staging, progress), force, progress);
    }

    /**
     * The attribute to build (pure, tested): with a manifest, the role-aware package after checking
     * the manifest knows the profile and the role; without, the legacy {@code tenant-<profile>}.
     */
    static String attribute(Optional<JsonNode> manifest, Role role, String profile) {
        if (manifest.isEmpty()) {
            return "tenant-" + profile;
        }
        JsonNode m = manifest.get();
        List<String> missing = new ArrayList<>();
        if (!m.path("profiles").has(profile)) {
            missing.add("[profiles." + profile + "]");
        }
        if (!m.path("roles").has(role.wireName())) {
            missing.add("[roles." + role.wireName() + "]");
        }
        if (!missing.isEmpty()) {
            throw new TemplateBuildException("the flake's mvm-profiles.toml has no " + String.join(" and ", missing));
        }
        return "packages." + SYSTEM + ".tenant-" + role.wireName() + "-" + profile;
    }

    /** A local path (relative to the template file) becomes absolute; other references are Nix's business. */
    static String flakeRef(String flake, Path relativeTo) {
        if (flake.startsWith(".") || flake.startsWith("/")) {
            return relativeTo.resolve(flake).toAbsolutePath().normalize().toString();
        }
        if (flake.startsWith("path:")) {
            return "path:" + relativeTo.resolve(flake.substring(5)).toAbsolutePath().normalize();
        }
        return flake;
    }

    private static Optional<Path> localFlakeDir(String flake) {
        String path = flake.startsWith("path:") ? flake.substring(5) : flake;
        return path.startsWith("/") && Files.isDirectory(Path.of(path)) ? Optional.of(Path.of(path)) : Optional.empty();
    }

    private static JsonNode readManifest(Path file) {
        try {
            return TOML.readTree(file.toFile());
        } catch (IOException e) {
            throw new TemplateBuildException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private String narHash(String flake) {
        List<String> argv = new ArrayList<>(List.of("nix"));
        argv.addAll(nixOptions);
        argv.addAll(List.of("flake", "metadata", "--json", flake));
        try {
            JsonNode metadata = JSON.readTree(HostProgram.of(argv).timeout(Duration.ofMinutes(5)).run());
            String hash = metadata.path("locked").path("narHash").asText("");
            if (hash.isEmpty()) {
                throw new TemplateBuildException("nix flake metadata gave no narHash for " + flake);
            }
            return hash;
        } catch (IOException e) {
            throw new TemplateBuildException("cannot read nix flake metadata for " + flake + ": " + e.getMessage(), e);
        }
    }

    public String recipe() {
        return io.mvm.core.template.CacheKey.sha256Hex(FORMAT + "\n" + base.recipe() + "injection " + injection.recipe() + "\n");
    }

    private ArtifactProducer.Produced produce(String flake, String attribute, Path staging, ProgressListener progress) {
        Path result = staging.resolve("nix-result");
        List<String> argv = new ArrayList<>(List.of("nix"));
        argv.addAll(nixOptions);
        argv.addAll(List.of("build", flake + "#" + attribute, "--out-link", result.toString()));
        progress.step("nix build " + flake + "#" + attribute);
        HostProgram.of(argv).timeout(timeout).run();
        try {
            Path output = result.toRealPath();
            Path treeSource = Files.isDirectory(output.resolve("rootfs")) ? output.resolve("rootfs") : output;
            if (!Files.isDirectory(treeSource)) {
                throw new TemplateBuildException(flake + "#" + attribute + " built a file, not a root filesystem directory");
            }
            Path tree = staging.resolve("rootfs-tree");
            HostProgram.of("cp", "-a", "--", treeSource.toString(), tree.toString()).timeout(timeout).run();
            Path store = Files.createDirectories(tree.resolve("nix/store"));
            List<String> closure = HostProgram.of("nix-store", "--query", "--requisites", output.toString()).run().lines()
                    .map(String::strip).filter(p -> p.startsWith("/nix/store/")).toList();
            progress.step("copying the closure: " + closure.size() + " store path(s)");
            for (String path : closure) {
                HostProgram.of("cp", "-a", "--", path, store.toString()).timeout(timeout).run();
            }
            Files.delete(result);
            injection.inject(tree);
            progress.step("rootfs: mkfs.ext4 over the Nix output and mvm's guest agent");
            return base.rootfsFromTree(tree, staging);
        } catch (IOException e) {
            throw new TemplateBuildException("cannot assemble the Nix root filesystem: " + e.getMessage(), e);
        }
    }

}

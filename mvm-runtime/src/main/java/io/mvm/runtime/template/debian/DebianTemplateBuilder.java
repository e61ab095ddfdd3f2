package io.mvm.runtime.template.debian;

import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.runtime.image.HostProgram;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.state.DirectoryTree;
import io.mvm.runtime.template.ArtifactProducer;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.BuildRequest;
import io.mvm.runtime.template.GuestAgentInjection;
import io.mvm.runtime.template.RootfsPath;
import io.mvm.runtime.template.TemplateBuildException;
import io.mvm.runtime.template.TemplateStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds a template revision from Debian packages with {@code mmdebstrap} (minbase plus the listed
 * packages, from Debian's archive through the host's network), copies the listed files in, adds
 * mvm's guest side and writes {@code rootfs.ext4} — inside the store's staging directory like every
 * builder.
 *
 * <p>This runs Debian maintainer scripts as root on the host: only for {@code --on-host} builds of
 * trusted package lists, until builder microVMs exist.
 *
 * <p>The archive is not pinned (no snapshot.debian.org here), so the source identity is the package
 * list, the files' content and the archive <em>date</em> (UTC day, from the injected clock): builds
 * on the same day reuse a revision, a later day's build is a new one with whatever Debian ships then.
 */
public final class DebianTemplateBuilder {
    static final String FORMAT = "debian-builder 1";
    static final String VARIANT = "minbase";

    private final TemplateStore store;
    private final BaseImage base;
    private final GuestAgentInjection injection;
    private final InstantSource clock;
    private final Duration timeout;

    public DebianTemplateBuilder(TemplateStore store, BaseImage base, GuestAgentInjection injection, InstantSource clock, Duration timeout) {
        this.store = store;
        this.base = base;
        this.injection = injection;
        this.clock = clock;
        this.timeout = timeout;
    }

    public BuildOutcome build(TemplateId template, TemplateSource.Debian source, Path relativeTo, TemplateVariant variant,
                              boolean force, ProgressListener progress) {
        Map<String, Path> files = new TreeMap<>();
        source.files().forEach((guest, host) -> files.put(guest, relativeTo.resolve(host).toAbsolutePath().normalize()));
        String lockHash = lockHash(source, files);
        String reference = "debian " + source.suite() + " " + VARIANT
                + (source.packages().isEmpty() ? "" : " + " + String.join(",", source.packages()))
                + (files.isEmpty() ? "" : " + " + files.size() + " file(s)");
        BuildRequest request = new BuildRequest(template, new SourceIdentity("debian", reference, lockHash), variant.profile(),
                variant.role(), variant.vcpus(), variant.memMib(), variant.dataDiskMib(), recipe());
        return store.build(request, staging -> produce(source, files, staging, progress), force, progress);
    }

    /** Package list, files' content and the archive day: what decides what mmdebstrap produces. */
    String lockHash(TemplateSource.Debian source, Map<String, Path> files) {
        StringBuilder text = new StringBuilder("suite " + source.suite() + "\nvariant " + VARIANT + "\npackages "
                + String.join(",", source.packages().stream().sorted().toList()) + "\narchive-date "
                + clock.instant().atZone(ZoneOffset.UTC).toLocalDate() + "\n");
        for (Map.Entry<String, Path> file : files.entrySet()) {
            if (!Files.isRegularFile(file.getValue())) {
                throw new TemplateBuildException("file " + file.getValue() + " for " + file.getKey() + " does not exist");
            }
            try {
                text.append("file ").append(file.getKey()).append(' ').append(ImageBuilder.sha256(file.getValue())).append('\n');
            } catch (IOException e) {
                throw new TemplateBuildException("cannot read " + file.getValue() + ": " + e.getMessage(), e);
            }
        }
        return "sha256:" + io.mvm.core.template.CacheKey.sha256Hex(text.toString());
    }

    public String recipe() {
        return io.mvm.core.template.CacheKey.sha256Hex(FORMAT + "\n" + base.recipe() + "injection " + injection.recipe() + "\n");
    }

    /** The mmdebstrap command line (pure, tested): minbase, the packages, a directory target. */
    static List<String> mmdebstrapCommand(TemplateSource.Debian source, Path tree) {
        List<String> argv = new ArrayList<>(List.of("mmdebstrap", "--mode=root", "--format=directory", "--variant=" + VARIANT));
        if (!source.packages().isEmpty()) {
            argv.add("--include=" + String.join(",", source.packages()));
        }
        argv.add(source.suite());
        argv.add(tree.toString());
        return argv;
    }

    private ArtifactProducer.Produced produce(TemplateSource.Debian source, Map<String, Path> files, Path staging, ProgressListener progress) {
        Path tree = staging.resolve("rootfs-tree");
        progress.step("mmdebstrap " + source.suite() + " " + VARIANT
                + (source.packages().isEmpty() ? "" : " with " + String.join(", ", source.packages())));
        HostProgram.of(mmdebstrapCommand(source, tree)).env(Map.of("LC_ALL", "C.UTF-8")).timeout(timeout).run();
        try {
            for (Map.Entry<String, Path> file : files.entrySet()) {
                Path target = RootfsPath.entry(tree, RootfsPath.components(file.getKey().substring(1)), true).orElseThrow(() ->
                        new TemplateBuildException("cannot place " + file.getKey() + " in the image: a parent is not a directory"));
                DirectoryTree.delete(target);
                Files.copy(file.getValue(), target);
                Files.setAttribute(target, "unix:uid", 0, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(target, "unix:gid", 0, LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(target, "unix:mode", (Integer) Files.getAttribute(file.getValue(), "unix:mode") & 0777);
            }
            injection.inject(tree);
            progress.step("rootfs: mkfs.ext4 over the Debian tree and mvm's guest agent");
            return base.rootfsFromTree(tree, staging);
        } catch (IOException e) {
            throw new TemplateBuildException("cannot assemble the Debian root filesystem: " + e.getMessage(), e);
        }
    }

}

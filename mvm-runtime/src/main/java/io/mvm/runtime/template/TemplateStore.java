package io.mvm.runtime.template;

import io.mvm.core.template.ArtifactFile;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.ExclusiveFileLock;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.files.AtomicFile;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Templates' built artifacts on this host, content-addressed by revision:
 *
 * <pre>
 * &lt;data&gt;/templates/&lt;id&gt;/
 *   .build.lock                 held for the whole of a build: one build per template at a time
 *   current -&gt; artifacts/&lt;rev&gt;   switched atomically (a new link renamed over the old one)
 *   artifacts/&lt;rev&gt;/revision.json, rootfs.ext4, vmlinuz, initramfs.cpio.gz
 *   artifacts/.build-*          a build in progress (deleted when it fails; swept by the next build)
 * </pre>
 *
 * A build fills a staging directory and is renamed into {@code artifacts/} only when complete and
 * its {@code revision.json} written, so a reader — or a crash — sees either no revision or a whole
 * one, and a failed build leaves {@code current} where it was. Builds of different templates hold
 * different locks and run side by side.
 */
public final class TemplateStore {
    public static final String REVISION_FILE = "revision.json";
    public static final String CURRENT_LINK = "current";
    private static final String STAGING_PREFIX = ".build-";

    private final Path templatesDir;
    private final InstantSource clock;

    public TemplateStore(Path dataDir, InstantSource clock) {
        this.templatesDir = dataDir.toAbsolutePath().resolve("templates");
        this.clock = clock;
    }

    public Path templateDir(TemplateId id) {
        return templatesDir.resolve(id.value());
    }

    public Path revisionDir(TemplateId id, String revisionHash) {
        if (!revisionHash.matches("[0-9a-f]{16,128}")) {
            throw MvmException.invalid("'" + revisionHash + "' is not a revision hash");
        }
        return templateDir(id).resolve("artifacts").resolve(revisionHash);
    }

    /**
     * Builds {@code request} unless an intact revision with its cache key and recipe exists (then
     * that one becomes current and is returned as {@link BuildOutcome.Reused}); {@code force}
     * rebuilds regardless. Serialised per template across threads and processes.
     */
    public BuildOutcome build(BuildRequest request, ArtifactProducer producer, boolean force, ProgressListener progress) {
        TemplateId id = request.template();
        Path artifacts = templateDir(id).resolve("artifacts");
        return ExclusiveFileLock.holding(templateDir(id).resolve(".build.lock"), () -> {
            sweepAbandonedStaging(artifacts);
            Path target = revisionDir(id, request.revisionHash());
            if (!force) {
                Optional<TemplateRevision> cached = loadIntact(id, target)
                        .filter(r -> r.cacheKey().equals(request.cacheKey()) && r.builderRecipe().equals(request.builderRecipe()));
                if (cached.isPresent()) {
                    switchCurrent(id, target);
                    progress.step("template " + id + ": cache hit (key " + request.cacheKey().substring(0, 12)
                            + "), reusing revision " + request.revisionHash().substring(0, 12));
                    return new BuildOutcome.Reused(cached.get(), target);
                }
            }
            progress.step("template " + id + ": building revision " + request.revisionHash().substring(0, 12)
                    + " from " + request.source().kind() + " " + request.source().reference());
            Path staging = createStaging(artifacts);
            try {
                ArtifactProducer.Produced produced = producer.produce(staging);
                TemplateRevision revision = describe(request, staging, produced);
                AtomicFile.write(staging.resolve(REVISION_FILE), TemplateRevisionJson.write(revision));
                AtomicFile.syncDirectory(staging);
                moveIntoPlace(staging, target);
                switchCurrent(id, target);
                progress.step("template " + id + ": revision " + revision.revisionHash().substring(0, 12) + " is current");
                return new BuildOutcome.Built(revision, target);
            } catch (MvmException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                throw new TemplateBuildException("template " + id + ": build failed: " + e.getMessage(), e);
            } finally {
                DirectoryTree.deleteQuietly(staging);
            }
        });
    }

    /**
     * Removes a template with all its revisions, under its build lock (a build in progress finishes
     * first). The directory is renamed aside before it is deleted, so readers see the whole template
     * or none. Whether a VM still boots from it is the caller's question: a running VMM keeps its open
     * files, but a sleeping VM could not wake.
     */
    public void delete(TemplateId id) {
        Path dir = templateDir(id);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw MvmException.notFound("template " + id + " does not exist on this host");
        }
        ExclusiveFileLock.holding(dir.resolve(".build.lock"), () -> {
            try {
                Path aside = Files.createTempDirectory(templatesDir, ".deleted-" + id + "-");
                Files.move(dir, aside.resolve(id.value()), StandardCopyOption.ATOMIC_MOVE);
                AtomicFile.syncDirectory(templatesDir);
                DirectoryTree.deleteQuietly(aside);
            } catch (IOException e) {
                throw MvmException.internal("cannot delete template " + id + ": " + e.getMessage(), e);
            }
            return null;
        });
    }

    /**
     * Runs {@code action} holding the template's build lock (no build, snapshot or delete of this
     * template meanwhile, in any process). Not reentrant: {@code action} must not build or delete.
     */
    public <T> T withBuildLock(TemplateId id, java.util.function.Supplier<T> action) {
        return ExclusiveFileLock.holding(templateDir(id).resolve(".build.lock"), action);
    }

    /**
     * Rewrites a revision's record with its golden snapshot (or without one), atomically; the
     * artifacts are untouched, so the revision stays the same revision. The caller holds the build
     * lock ({@link #withBuildLock}).
     */
    public TemplateRevision recordSnapshot(Path revisionDir, TemplateRevision revision, Optional<io.mvm.core.template.SnapshotInfo> snapshot) {
        TemplateRevision updated = revision.withSnapshot(snapshot);
        AtomicFile.write(revisionDir.resolve(REVISION_FILE), TemplateRevisionJson.write(updated));
        return updated;
    }

    /** Every template with a directory in this store, by name. */
    public List<TemplateId> templates() {
        if (!Files.isDirectory(templatesDir)) {
            return List.of();
        }
        List<TemplateId> ids = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(templatesDir,
                p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && TemplateId.isValid(p.getFileName().toString()))) {
            dirs.forEach(dir -> ids.add(new TemplateId(dir.getFileName().toString())));
        } catch (IOException e) {
            throw MvmException.internal("cannot list " + templatesDir + ": " + e.getMessage(), e);
        }
        ids.sort(Comparator.comparing(TemplateId::value));
        return ids;
    }

    /** The revision new VMs of this template boot, if it has an intact one. */
    public Optional<TemplateRevision> current(TemplateId id) {
        return currentRevision(id).map(Current::revision);
    }

    /** A revision with the directory it was read from: read together, so a concurrent switch cannot mix two. */
    public record Current(TemplateRevision revision, Path directory) {
        public GuestImage image() {
            return imageOf(revision, directory);
        }
    }

    public Optional<Current> currentRevision(TemplateId id) {
        return currentDirectory(id).flatMap(dir -> loadIntact(id, dir).map(revision -> new Current(revision, dir)));
    }

    public Optional<Path> currentDirectory(TemplateId id) {
        Path link = templateDir(id).resolve(CURRENT_LINK);
        if (!Files.isSymbolicLink(link)) {
            return Optional.empty();
        }
        try {
            return Optional.of(link.resolveSibling(Files.readSymbolicLink(link)).normalize());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Every revision of the template that loads, oldest first. */
    public List<TemplateRevision> revisions(TemplateId id) {
        Path artifacts = templateDir(id).resolve("artifacts");
        if (!Files.isDirectory(artifacts)) {
            return List.of();
        }
        List<TemplateRevision> found = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(artifacts, p -> !p.getFileName().toString().startsWith("."))) {
            for (Path dir : dirs) {
                read(id, dir).ifPresent(found::add);
            }
        } catch (IOException e) {
            throw MvmException.internal("cannot list " + artifacts + ": " + e.getMessage(), e);
        }
        found.sort(Comparator.comparing(TemplateRevision::builtAt));
        return found;
    }

    /**
     * The current revision as a bootable image: its own rootfs, the kernel and initramfs it was
     * built with.
     */
    public GuestImage currentImage(TemplateId id) {
        Path dir = currentDirectory(id).orElseThrow(() -> MvmException.notFound("template " + id + " has no built revision"));
        return currentRevision(id).orElseThrow(() -> MvmException.precondition(
                "template " + id + ": the current revision in " + dir + " is missing or damaged; build it again")).image();
    }

    public static GuestImage imageOf(TemplateRevision revision, Path dir) {
        Path kernel = dir.resolve(revision.artifact(ArtifactFile.KERNEL).orElseThrow(() -> noArtifact(revision, "kernel")).path());
        Path initramfs = dir.resolve(revision.artifact(ArtifactFile.INITRAMFS).orElseThrow(() -> noArtifact(revision, "initramfs")).path());
        Path rootfs = dir.resolve(revision.artifact(ArtifactFile.ROOTFS).orElseThrow(() -> noArtifact(revision, "rootfs")).path());
        return new GuestImage(revision.templateId() + "@" + revision.revisionHash().substring(0, 12), kernel, initramfs, rootfs,
                revision.kernelVersion(), revision.bootArgs());
    }

    private static MvmException noArtifact(TemplateRevision revision, String what) {
        return MvmException.precondition("revision " + revision.revisionHash() + " has no " + what);
    }

    private TemplateRevision describe(BuildRequest request, Path staging, ArtifactProducer.Produced produced) throws IOException {
        List<ArtifactFile> artifacts = new ArrayList<>();
        Map<String, String> files = new LinkedHashMap<>(produced.files());
        for (Map.Entry<String, String> file : files.entrySet()) {
            Path path = staging.resolve(file.getValue());
            if (!path.normalize().startsWith(staging) || !Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
                throw new TemplateBuildException("the builder did not produce its " + file.getKey() + " (" + file.getValue() + ")");
            }
            artifacts.add(ArtifactFile.of(file.getKey(), file.getValue(), Files.size(path), ImageBuilder.sha256(path)));
        }
        return new TemplateRevision(TemplateRevision.CURRENT_SCHEMA_VERSION, request.revisionHash(), request.template().value(),
                request.source(), request.cacheKey(), request.builderRecipe(), artifacts, produced.kernelVersion(),
                produced.bootArgs(), clock.instant(), request.profile(), request.role(), request.vcpus(), request.memMib(),
                request.dataDiskMib(), produced.workload(), java.util.Optional.empty());
    }

    private static Path createStaging(Path artifacts) {
        try {
            Files.createDirectories(artifacts);
            return Files.createTempDirectory(artifacts, STAGING_PREFIX,
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new TemplateBuildException("cannot create a build directory in " + artifacts + ": " + e.getMessage(), e);
        }
    }

    /** Leftovers of builds that died with their process; safe to remove while this template's lock is held. */
    private static void sweepAbandonedStaging(Path artifacts) {
        if (!Files.isDirectory(artifacts)) {
            return;
        }
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(artifacts, p -> {
            String name = p.getFileName().toString();
            return name.startsWith(STAGING_PREFIX) || name.startsWith(".old-");
        })) {
            for (Path dir : stale) {
                DirectoryTree.deleteQuietly(dir);
            }
        } catch (IOException ignored) {
            // a leftover that cannot be listed now is swept by a later build
        }
    }

    /**
     * Renames the finished staging directory to its revision name. A forced rebuild replaces an
     * existing directory of the same revision: it is renamed aside first, so between the two renames
     * (microseconds, under the build lock) the revision is briefly absent, never half-written.
     */
    private static void moveIntoPlace(Path staging, Path target) throws IOException {
        Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path aside = null;
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            aside = target.resolveSibling(".old-" + target.getFileName());
            DirectoryTree.delete(aside);
            Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        AtomicFile.syncDirectory(target.getParent());
        if (aside != null) {
            DirectoryTree.deleteQuietly(aside);
        }
    }

    /** A new link next to the old one, renamed over it: readers see the old or the new target, never none. */
    private void switchCurrent(TemplateId id, Path revisionDir) {
        Path dir = templateDir(id);
        Path link = dir.resolve(CURRENT_LINK);
        Path relative = dir.relativize(revisionDir);
        try {
            if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).equals(relative)) {
                return;
            }
            Path fresh = Files.createTempFile(dir, ".current-", ".link");
            Files.delete(fresh);
            Files.createSymbolicLink(fresh, relative);
            Files.move(fresh, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            AtomicFile.syncDirectory(dir);
        } catch (IOException e) {
            throw MvmException.internal("cannot point " + link + " at " + relative + ": " + e.getMessage(), e);
        }
    }

    private Optional<TemplateRevision> read(TemplateId id, Path dir) {
        Path file = dir.resolve(REVISION_FILE);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try {
            return Optional.of(TemplateRevisionJson.read(Files.readAllBytes(file), id.value()));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** A revision whose files are all present with their recorded sizes and digests (where recorded). */
    private Optional<TemplateRevision> loadIntact(TemplateId id, Path dir) {
        return read(id, dir).filter(revision -> revision.artifacts().stream().allMatch(a -> isIntact(dir, a)));
    }

    private static boolean isIntact(Path dir, ArtifactFile artifact) {
        Path file = dir.resolve(artifact.path()).normalize();
        try {
            if (!file.startsWith(dir) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                return false;
            }
            if (artifact.size().isPresent() && Files.size(file) != artifact.size().getAsLong()) {
                return false;
            }
            return artifact.sha256().isEmpty() || artifact.sha256().get().equals(ImageBuilder.sha256(file));
        } catch (IOException e) {
            return false;
        }
    }
}

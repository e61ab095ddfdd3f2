package io.mvm.agent.templates;

import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.TemplatePin;
import io.mvm.core.template.ArtifactFile;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.files.AtomicFile;
import io.mvm.runtime.template.TemplateBoot;
import io.mvm.runtime.template.TemplateRevisionJson;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.runtime.vm.VmDirectory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a node boots for an instance of a templated pool. A pinned revision (the coordinator's
 * desired state names it with every file's digest) comes from this node's own template store when
 * it built that revision, else from {@code <data>/artifacts-cache/}: each file fetched from the
 * coordinator by digest, streamed into {@code partial/<hex>} (a broken download resumes there with
 * an HTTP Range), sha256-checked, renamed to {@code sha256/<hex>}, and hard-linked with the
 * revision's record into {@code revisions/<template>/<revision>/}. Without a pin, the template's
 * current revision on this node (built here). Which revision each instance booted is kept in
 * {@code booted/<instance>} for the agent's reports. {@link #collectGarbage} removes revisions no
 * VM of this node uses and files no kept revision links.
 */
public final class TemplateArtifacts {
    private static final Logger log = LoggerFactory.getLogger(TemplateArtifacts.class);
    /** A revision fetched this recently is kept even when no VM uses it yet (its instance is being created). */
    public static final Duration KEEP_FRESH = Duration.ofMinutes(10);

    private final Path dataDir;
    private final Path cache;
    private final Optional<ArtifactSource> source;
    private final InstantSource clock;
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    private final ReentrantLock gcLock = new ReentrantLock();

    public TemplateArtifacts(Path dataDir, Optional<ArtifactSource> source, InstantSource clock) {
        this.dataDir = dataDir;
        this.cache = dataDir.resolve("artifacts-cache");
        this.source = source;
        this.clock = clock;
    }

    public Path cacheDir() {
        return cache;
    }

    /** The booted template and revision of one instance, as recorded when its VM was defined. */
    public record Booted(String template, String revision) {}

    /** What {@code spec} boots, given its own command (null: the image's) and env. */
    public TemplateBoot boot(InstanceSpec spec, String cmd, Map<String, String> env) {
        String template = spec.template().orElseThrow();
        TemplateBoot boot;
        String revision;
        if (spec.pin().isPresent()) {
            TemplatePin pin = spec.pin().get();
            Resolved r = resolve(pin);
            boot = TemplateBoot.of(r.revision(), TemplateStore.imageOf(r.revision(), r.dir()), cmd, env);
            revision = pin.revision();
        } else {
            var current = new TemplateStore(dataDir, clock).currentRevision(new TemplateId(template))
                    .orElseThrow(() -> MvmException.notFound("template " + template + " has no intact built revision on"
                            + " this host (mvm template build FILE --on-host)"));
            boot = TemplateBoot.of(current.revision(), current.image(), cmd, env);
            revision = current.revision().revisionHash();
        }
        try {
            Files.createDirectories(cache.resolve("booted"));
        } catch (IOException e) {
            throw MvmException.precondition("cannot create " + cache.resolve("booted") + ": " + e.getMessage());
        }
        AtomicFile.write(cache.resolve("booted").resolve(spec.id().value()),
                (template + " " + revision + "\n").getBytes(StandardCharsets.UTF_8));
        collectGarbage(KEEP_FRESH);
        return boot;
    }

    public Optional<Booted> booted(InstanceId id) {
        Path f = cache.resolve("booted").resolve(id.value());
        try {
            String[] parts = Files.readString(f).strip().split(" ");
            return parts.length == 2 ? Optional.of(new Booted(parts[0], parts[1])) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private record Resolved(TemplateRevision revision, Path dir) {}

    /** The pinned revision's directory: built here, or fetched (once) into the cache. */
    private Resolved resolve(TemplatePin pin) {
        TemplateId id = new TemplateId(pin.template());
        Path built = new TemplateStore(dataDir, clock).revisionDir(id, pin.revision());
        Optional<Resolved> local = complete(pin, built);
        if (local.isPresent()) {
            return local.get();
        }
        Path dir = cache.resolve("revisions").resolve(id.value()).resolve(pin.revision());
        ReentrantLock lock = locks.computeIfAbsent("rev:" + pin.template() + "/" + pin.revision(), k -> new ReentrantLock());
        lock.lock();
        gcLock.lock();
        try {
            Optional<Resolved> cached = complete(pin, dir);
            if (cached.isPresent()) {
                touch(dir);
                return cached.get();
            }
            ArtifactSource from = source.orElseThrow(() -> MvmException.notFound("template " + pin.template()
                    + " revision " + pin.revision() + " is not on this host and there is no coordinator to fetch it from"));
            byte[] record = from.revisionRecord(pin.template(), pin.revision());
            TemplateRevision revision = TemplateRevisionJson.read(record, pin.template());
            if (!revision.revisionHash().equals(pin.revision())) {
                throw MvmException.precondition("the coordinator's record of " + pin.template() + " " + pin.revision()
                        + " names revision " + revision.revisionHash());
            }
            Files.createDirectories(dir.getParent());
            Path staging = Files.createTempDirectory(dir.getParent(), ".fetch-");
            try {
                for (TemplatePin.Artifact a : pin.artifacts()) {
                    Path blob = fetch(from, a);
                    Files.createLink(staging.resolve(a.path()), blob);
                }
                AtomicFile.write(staging.resolve("revision.json"), record);
                if (Files.exists(dir)) {
                    deleteTree(dir); // an incomplete one (a file lost since): replaced whole
                }
                Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
                AtomicFile.syncDirectory(dir.getParent());
            } finally {
                if (Files.exists(staging)) {
                    deleteTree(staging);
                }
            }
            log.info("template {} revision {} fetched from the coordinator into {}", pin.template(), pin.revision(), dir);
            return complete(pin, dir).orElseThrow(() -> MvmException.internal("fetched revision " + pin.revision()
                    + " is incomplete in " + dir, null));
        } catch (IOException e) {
            throw MvmException.unavailable("cannot fetch template " + pin.template() + " revision " + pin.revision()
                    + ": " + e.getMessage(), e);
        } finally {
            gcLock.unlock();
            lock.unlock();
        }
    }

    /** The revision in {@code dir} when its record is there and every pinned file has its size. */
    private static Optional<Resolved> complete(TemplatePin pin, Path dir) {
        Path record = dir.resolve("revision.json");
        if (!Files.isRegularFile(record)) {
            return Optional.empty();
        }
        try {
            TemplateRevision revision = TemplateRevisionJson.read(Files.readAllBytes(record), pin.template());
            for (TemplatePin.Artifact a : pin.artifacts()) {
                Path f = dir.resolve(a.path());
                if (!Files.isRegularFile(f) || Files.size(f) != a.size()) {
                    return Optional.empty();
                }
                Optional<ArtifactFile> recorded = revision.artifact(a.role());
                if (recorded.isEmpty() || !recorded.get().sha256().equals(Optional.of(a.sha256()))) {
                    return Optional.empty();
                }
            }
            return Optional.of(new Resolved(revision, dir));
        } catch (IOException | MvmException e) {
            return Optional.empty();
        }
    }

    /**
     * {@code sha256/<hex>}, fetched if missing: appended to {@code partial/<hex>} from where an
     * earlier attempt stopped, then hashed whole; a mismatch deletes the partial file.
     */
    Path fetch(ArtifactSource from, TemplatePin.Artifact a) throws IOException {
        Path done = cache.resolve("sha256").resolve(a.sha256());
        ReentrantLock lock = locks.computeIfAbsent(a.sha256(), k -> new ReentrantLock());
        lock.lock();
        try {
            if (Files.isRegularFile(done) && Files.size(done) == a.size()) {
                return done;
            }
            Files.createDirectories(done.getParent());
            Path partial = cache.resolve("partial").resolve(a.sha256());
            Files.createDirectories(partial.getParent());
            long have = Files.exists(partial) ? Files.size(partial) : 0;
            if (have > a.size()) {
                Files.delete(partial);
                have = 0;
            }
            if (have < a.size()) {
                ArtifactSource.Ranged ranged = from.artifact(a.sha256(), have);
                if (have > 0) {
                    log.info("resuming download of {} (sha256:{}) at byte {} of {}", a.path(), a.sha256(), ranged.offset(),
                            a.size());
                }
                try (InputStream in = ranged.body();
                     FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                    ch.truncate(ranged.offset()); // the source may have ignored the range: start where it starts
                    ch.position(ranged.offset());
                    OutputStream out = java.nio.channels.Channels.newOutputStream(ch);
                    in.transferTo(out);
                    out.flush();
                    ch.force(true);
                }
            }
            String actual = sha256(partial);
            if (!actual.equals(a.sha256()) || Files.size(partial) != a.size()) {
                Files.deleteIfExists(partial);
                throw MvmException.precondition("download of " + a.path() + " hashes to sha256:" + actual + ", not sha256:"
                        + a.sha256() + "; discarded, the next attempt starts over");
            }
            Files.move(partial, done, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            AtomicFile.syncDirectory(done.getParent());
            return done;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Removes fetched revisions that no VM of this node boots from and that were not used within
     * {@code keepFresh}, then every cached file no remaining revision links, and the booted
     * records of instances without a VM here. Returns how many files and directories went.
     */
    public int collectGarbage(Duration keepFresh) {
        gcLock.lock();
        try {
            Set<Path> used = new HashSet<>();
            Set<String> withVm = new HashSet<>();
            Path vms = dataDir.resolve("vms");
            if (Files.isDirectory(vms)) {
                try (Stream<Path> dirs = Files.list(vms)) {
                    for (Path d : dirs.filter(Files::isDirectory).toList()) {
                        withVm.add(d.getFileName().toString());
                        new VmDirectory(d).definition().ifPresent(def -> used.add(def.image().rootfs().toAbsolutePath()
                                .getParent().normalize()));
                    }
                }
            }
            Instant cutoff = clock.instant().minus(keepFresh);
            int removed = 0;
            Path revisions = cache.resolve("revisions");
            if (Files.isDirectory(revisions)) {
                try (Stream<Path> walk = Files.list(revisions)) {
                    for (Path template : walk.filter(Files::isDirectory).toList()) {
                        try (Stream<Path> revs = Files.list(template)) {
                            for (Path rev : revs.filter(Files::isDirectory).toList()) {
                                boolean fresh = Files.getLastModifiedTime(rev).toInstant().isAfter(cutoff);
                                if (!used.contains(rev.toAbsolutePath().normalize()) && !fresh) {
                                    deleteTree(rev);
                                    removed++;
                                }
                            }
                        }
                    }
                }
            }
            Path blobs = cache.resolve("sha256");
            if (Files.isDirectory(blobs)) {
                try (Stream<Path> files = Files.list(blobs)) {
                    for (Path f : files.toList()) {
                        // A revision directory holds a hard link: a count of 1 means only the cache names it.
                        if (((Number) Files.getAttribute(f, "unix:nlink")).intValue() <= 1) {
                            Files.deleteIfExists(f);
                            removed++;
                        }
                    }
                }
            }
            Path booted = cache.resolve("booted");
            if (Files.isDirectory(booted)) {
                try (Stream<Path> files = Files.list(booted)) {
                    for (Path f : files.toList()) {
                        if (!withVm.contains(f.getFileName().toString())
                                && Files.getLastModifiedTime(f).toInstant().isBefore(cutoff)) {
                            Files.deleteIfExists(f);
                        }
                    }
                }
            }
            return removed;
        } catch (IOException e) {
            log.warn("artifact cache garbage collection failed, the next one retries: {}", e.toString());
            return 0;
        } finally {
            gcLock.unlock();
        }
    }

    private static void touch(Path dir) throws IOException {
        Files.setLastModifiedTime(dir, java.nio.file.attribute.FileTime.from(Instant.now()));
    }

    static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

package io.mvm.runtime.template;

import io.mvm.core.template.SnapshotInfo;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateRevision;
import io.mvm.core.template.TemplateSnapshotSettings;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.files.AtomicFile;
import io.mvm.runtime.state.DirectoryTree;
import io.mvm.runtime.vm.LocalClones;
import io.mvm.runtime.vm.LocalVms;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * Golden snapshots of template revisions ({@code mvm template build --snapshot}): boots the
 * revision's variant with its RAM in a file, waits for the guest agent's health and the template's
 * readiness command, drains it, and saves the snapshot as {@code <revision>/snapshot/} (RAM file,
 * device state, data drive, {@code info.json}) with the revision record carrying its parameters
 * and the sha256 of every file ({@link SnapshotInfo}).
 *
 * <p>The snapshot VM has every drive slot a clone may need — an (empty) secrets and config drive,
 * and the variant's data drive when it has one — because a restored guest cannot see a device added
 * after it booted; clones that lack one get an empty one ({@link TemplateStart}). It has a NIC only
 * when the template says {@code [snapshot] nic = true}: then on a throwaway tap of its own (on no
 * bridge, deleted afterwards) with a link-local address, and every clone must bring a NIC (its own
 * tap, MAC and IP, set by clone-identity) — agent instances on a host network; without, clones must
 * have none ({@code mvm vm run --template}). A clone that does not fit cold-boots, saying so.
 *
 * <p>Order on disk, under the template's build lock: the snapshot is saved into
 * {@code <revision>/.snapshot-*}, renamed to {@code snapshot} (an older one renamed aside first), and
 * only then is {@code revision.json} rewritten to name it. A crash before that last step leaves a
 * revision without a snapshot record (cold boots; the next {@code --snapshot} replaces the
 * directory); one after it, a complete snapshot. A record whose files do not match is never restored.
 */
public final class TemplateSnapshots {
    static final String STAGING_PREFIX = ".snapshot-";
    private static final Duration READINESS_POLL = Duration.ofMillis(500);
    private static final Duration READINESS_CALL = Duration.ofSeconds(30);

    private final TemplateStore store;
    private final LocalVms vms;
    private final InstantSource clock;
    private final RandomGenerator random;

    public TemplateSnapshots(TemplateStore store, LocalVms vms, InstantSource clock, RandomGenerator random) {
        this.store = store;
        this.vms = vms;
        this.clock = clock;
        this.random = random;
    }

    /** The outcome: the revision (now recording its snapshot) and the snapshot; {@code reused} when an intact one was kept. */
    public record Saved(TemplateRevision revision, GoldenSnapshot golden, boolean reused, long readinessMillis) {}

    /**
     * Takes the golden snapshot of the template's current revision, unless it has an intact one whose
     * parameters still hold on this host and {@code force} is false.
     */
    public Saved snapshotCurrent(TemplateId id, TemplateSnapshotSettings settings, boolean force, ProgressListener progress) {
        return store.withBuildLock(id, () -> {
            TemplateStore.Current current = store.currentRevision(id).orElseThrow(() -> MvmException.notFound(
                    "template " + id + " has no intact built revision on this host (mvm template build FILE --on-host)"));
            Path revisionDir = current.directory();
            sweepStaging(revisionDir);
            if (!force && current.revision().snapshot().isPresent()) {
                try {
                    TemplateRevision revision = current.revision();
                    List<String> differences = io.mvm.core.template.SnapshotRestoreCheck.differences(revision.snapshot().get(),
                            TemplateStart.target(vms.backend().fingerprint(), revision, revision.vcpus(), revision.memMib(), revision.bootArgs()));
                    if (!differences.isEmpty()) {
                        throw MvmException.precondition("it does not fit this host any more: " + String.join("; ", differences));
                    }
                    GoldenSnapshot golden = TemplateStart.openVerified(current);
                    if (golden.info().nic() != settings.nic()) {
                        throw MvmException.precondition("it was taken " + (golden.info().nic() ? "with" : "without")
                                + " a NIC and the template now says nic = " + settings.nic());
                    }
                    progress.step("template " + id + ": revision " + shortHash(current.revision().revisionHash())
                            + " already has an intact golden snapshot; keeping it (--force takes a new one)");
                    return new Saved(current.revision(), golden, true, 0);
                } catch (MvmException e) {
                    progress.step("template " + id + ": the revision's snapshot cannot be used (" + e.getMessage() + "); taking a new one");
                }
            }
            return take(current, settings, progress);
        });
    }

    private Saved take(TemplateStore.Current current, TemplateSnapshotSettings settings, ProgressListener progress) {
        TemplateRevision revision = current.revision();
        Path revisionDir = current.directory();
        String vmName = "tpl-snapshot-" + HexFormat.of().toHexDigits(random.nextInt());
        Path staging = revisionDir.resolve(STAGING_PREFIX + HexFormat.of().toHexDigits(random.nextInt()));
        LocalClones clones = new LocalClones(vms);
        boolean created = false;
        Optional<String> tap = Optional.empty();
        try {
            if (settings.nic()) {
                tap = Optional.of(createTap("mvs" + HexFormat.of().toHexDigits(random.nextInt())));
            }
            progress.step("template " + revision.templateId() + ": booting revision " + shortHash(revision.revisionHash())
                    + " for its golden snapshot (" + revision.vcpus() + " vCPU, " + revision.memMib() + " MiB, VM " + vmName + ")");
            VmSpec spec = snapshotSpec(vmName, current, tap);
            created = true;
            clones.runTemplate(spec);
            long readinessMillis = awaitReadiness(vmName, settings, progress);
            progress.step("template " + revision.templateId() + ": draining and saving the golden snapshot");
            GoldenSnapshot golden = clones.saveTemplate(vmName, staging, settings.drainTimeout());
            SnapshotInfo record = describe(golden, settings);
            Path target = revisionDir.resolve(SnapshotInfo.DIRECTORY);
            Path aside = null;
            if (Files.exists(target)) {
                // Running clones of the old snapshot keep its RAM through their mappings after the delete below.
                aside = revisionDir.resolve(STAGING_PREFIX + "old-" + HexFormat.of().toHexDigits(random.nextInt()));
                Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            AtomicFile.syncDirectory(revisionDir);
            TemplateRevision updated = store.recordSnapshot(revisionDir, revision, Optional.of(record));
            if (aside != null) {
                DirectoryTree.deleteQuietly(aside);
            }
            progress.step("template " + revision.templateId() + ": golden snapshot saved (vmstate " + record.vmstateSizeBytes()
                    + " bytes, RAM " + (record.memSizeBytes() >> 20) + " MiB, saved in " + golden.info().saveMillis() + " ms)");
            return new Saved(updated, GoldenSnapshot.open(target), false, readinessMillis);
        } catch (IOException e) {
            throw MvmException.internal("cannot move the golden snapshot into " + revisionDir + ": " + e.getMessage(), e);
        } finally {
            if (created) {
                try {
                    vms.destroy(vmName);
                } catch (MvmException e) {
                    // never created (the boot was refused before its directory existed): nothing to remove
                }
            }
            DirectoryTree.deleteQuietly(staging);
            tap.ifPresent(TemplateSnapshots::deleteTap);
        }
    }

    /** A tap on no bridge: the snapshot VM's NIC needs a host side, and nothing may reach the template through it. */
    private static String createTap(String name) {
        host("ip", "tuntap", "add", "dev", name, "mode", "tap");
        host("ip", "link", "set", name, "up");
        return name;
    }

    private static void deleteTap(String name) {
        try {
            host("ip", "link", "del", name);
        } catch (MvmException e) {
            // already gone
        }
    }

    private static void host(String... argv) {
        try {
            Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw MvmException.internal("'" + String.join(" ", argv) + "' did not finish in 30 s", null);
            }
            if (p.exitValue() != 0) {
                throw MvmException.internal("'" + String.join(" ", argv) + "' failed (exit " + p.exitValue() + "): " + output.strip(), null);
            }
        } catch (IOException e) {
            throw MvmException.internal("cannot run " + argv[0] + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MvmException.unavailable("interrupted while running " + argv[0], e);
        }
    }

    /** The snapshot VM: the variant's resources, the image's workload, and every drive slot a clone may bring. */
    VmSpec snapshotSpec(String vmName, TemplateStore.Current current, Optional<String> tap) {
        TemplateRevision revision = current.revision();
        TemplateBoot boot = TemplateBoot.of(current, null, Map.of());
        VmSpec.Builder b = VmSpec.builder(vmName, boot.image()).vcpus(revision.vcpus()).memoryMib(revision.memMib()).env(boot.env());
        if (boot.cmd() != null) {
            b.cmd(boot.cmd());
        }
        if (revision.dataDiskMib() > 0) {
            b.drive(new DriveSpec.Data(Math.max(8, revision.dataDiskMib())));
        }
        b.drive(new DriveSpec.Secrets(Map.of()));
        b.drive(new DriveSpec.Config(1, Map.of()));
        // A link-local address: the guest configures it at boot, and each clone replaces it with its own.
        tap.ifPresent(t -> b.nic(new io.mvm.runtime.backend.NicSpec(t, "52:54:00:5e:00:02", "169.254.77.2", 24, null)));
        return b.build();
    }

    /** Runs the readiness command until it exits 0; FAILED_PRECONDITION with its last output when time runs out. */
    private long awaitReadiness(String vmName, TemplateSnapshotSettings settings, ProgressListener progress) {
        if (settings.readiness().isEmpty()) {
            return 0;
        }
        List<String> argv = settings.readiness().get();
        Instant start = clock.instant();
        Instant deadline = start.plus(settings.readinessTimeout());
        progress.step("waiting up to " + settings.readinessTimeout().toSeconds() + " s for the readiness command " + argv);
        String last = "it never ran";
        int attempts = 0;
        while (true) {
            attempts++;
            Duration left = Duration.between(clock.instant(), deadline);
            Duration callTimeout = left.compareTo(READINESS_CALL) < 0 ? left : READINESS_CALL;
            if (callTimeout.isNegative() || callTimeout.isZero()) {
                break;
            }
            try (GuestChannel guest = vms.guest(vmName)) {
                GuestChannel.ExecResult result = guest.exec(new GuestChannel.ExecRequest(argv, Map.of(), new byte[0],
                        callTimeout.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : callTimeout));
                if (result.exitCode() == 0 && !result.timedOut()) {
                    long millis = Duration.between(start, clock.instant()).toMillis();
                    progress.step("readiness command succeeded after " + millis + " ms (" + attempts + " attempt(s))");
                    return millis;
                }
                last = result.timedOut() ? "timed out" : "exit " + result.exitCode() + tail(result.stderr(), result.stdout());
            } catch (MvmException e) {
                last = e.getMessage();
            }
            if (!clock.instant().plus(READINESS_POLL).isBefore(deadline)) {
                break;
            }
            try {
                Thread.sleep(READINESS_POLL);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw MvmException.unavailable("interrupted while waiting for the readiness command", e);
            }
        }
        throw MvmException.precondition("the template's readiness command " + argv + " did not succeed within "
                + settings.readinessTimeout().toSeconds() + " s (" + attempts + " attempt(s); last: " + last
                + "); no snapshot was taken");
    }

    private static String tail(byte[] stderr, byte[] stdout) {
        String text = new String(stderr.length > 0 ? stderr : stdout, StandardCharsets.UTF_8).strip();
        if (text.isEmpty()) {
            return "";
        }
        return ": " + (text.length() > 200 ? "..." + text.substring(text.length() - 200) : text);
    }

    /** The revision record's view of the snapshot: the parameters a restore needs and every file's checksum. */
    static SnapshotInfo describe(GoldenSnapshot golden, TemplateSnapshotSettings settings) {
        io.mvm.runtime.snapshot.SnapshotInfo info = golden.info();
        List<SnapshotInfo.SnapshotFile> files = new ArrayList<>();
        files.add(file(info.vmstate()));
        files.add(file(info.memory()));
        if (info.dataDrive() != null) {
            files.add(file(info.dataDrive()));
        }
        Path infoFile = golden.dir().resolve(io.mvm.runtime.snapshot.SnapshotInfo.FILE_NAME);
        try {
            files.add(new SnapshotInfo.SnapshotFile(io.mvm.runtime.snapshot.SnapshotInfo.FILE_NAME, Files.size(infoFile),
                    ImageBuilder.sha256(infoFile)));
        } catch (IOException e) {
            throw MvmException.internal("cannot read " + infoFile + ": " + e.getMessage(), e);
        }
        return new SnapshotInfo(info.createdAt(), info.vmstate().bytes(), info.memory().bytes(), info.imageBootArgs(), info.vcpus(),
                (int) info.memoryMib(), SnapshotInfo.DIRECTORY, info.backend(), info.backendVersion(), info.accelerator().wireName(),
                info.imageSha256(), files, settings.readiness());
    }

    private static SnapshotInfo.SnapshotFile file(io.mvm.runtime.snapshot.SnapshotInfo.SnapshotFile f) {
        return new SnapshotInfo.SnapshotFile(f.name(), f.bytes(), f.sha256());
    }

    /** Leftovers of snapshots whose process died mid-save (safe under the build lock). */
    private static void sweepStaging(Path revisionDir) {
        try (DirectoryStream<Path> stale = Files.newDirectoryStream(revisionDir, p -> p.getFileName().toString().startsWith(STAGING_PREFIX))) {
            for (Path dir : stale) {
                DirectoryTree.deleteQuietly(dir);
            }
        } catch (IOException ignored) {
            // swept by a later snapshot
        }
    }

    static String shortHash(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }
}

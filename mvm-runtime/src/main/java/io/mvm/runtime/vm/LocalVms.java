package io.mvm.runtime.vm;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveKind;
import io.mvm.runtime.backend.HypervisorBackend;
import io.mvm.runtime.backend.Pausable;
import io.mvm.runtime.backend.Snapshottable;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.files.AtomicFile;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VMs of one host under {@code <dataDir>/vms/}, over one backend. Used by the local CLI and by
 * the node agent. Every operation takes the VM's lock, reads its handle from disk (the truth, not
 * a cache: another process may have changed it), calls the backend and lets it journal the result.
 *
 * <p>{@link #recoverAll()} is what a freshly started runtime runs first: it re-adopts VMMs that are
 * still running, marks those that died as failed with their serial tail, and sweeps directories
 * left behind by a create that never wrote a handle.
 */
public final class LocalVms {
    private static final Logger LOG = LoggerFactory.getLogger(LocalVms.class);
    public static final Duration DEFAULT_STOP_GRACE = Duration.ofSeconds(20);
    public static final Duration DEFAULT_DRAIN_DEADLINE = Duration.ofSeconds(10);

    private final Path vmsRoot;
    private final Orphans orphans;
    private final HypervisorBackend backend;
    private final InstantSource clock;

    public LocalVms(Path dataDir, HypervisorBackend backend, InstantSource clock) {
        this.vmsRoot = dataDir.resolve("vms");
        this.orphans = new Orphans(dataDir);
        this.backend = backend;
        this.clock = clock;
        try {
            Files.createDirectories(vmsRoot);
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot create " + vmsRoot + ": " + e.getMessage(), e);
        }
    }

    public HypervisorBackend backend() {
        return backend;
    }

    /** Where {@link #setAside} keeps the data of VMs removed without deleting it. */
    public Orphans orphans() {
        return orphans;
    }

    /** What {@link #recoverAll()} found. */
    public record Recovery(List<VmStatus> adopted, List<VmStatus> failed, List<String> sweptOrphans) {}

    public Recovery recoverAll() {
        List<VmStatus> adopted = new ArrayList<>();
        List<VmStatus> failed = new ArrayList<>();
        List<String> swept = new ArrayList<>();
        for (Path dir : directories()) {
            String name = dir.getFileName().toString();
            Optional<VmLock> lock = VmLock.tryAcquire(lockFile(name));
            if (lock.isEmpty()) {
                continue; // somebody is working on it right now
            }
            try (VmLock held = lock.get()) {
                VmDirectory vm = new VmDirectory(dir);
                Optional<VmHandle> handle = vm.handle();
                if (handle.isEmpty()) {
                    DirectoryTree.delete(dir);
                    swept.add(name);
                    LOG.info("swept orphan VM directory {}", dir);
                    continue;
                }
                boolean wasLive = isLive(handle.get().state());
                VmHandle observed = backend.recover(handle.get(), vm);
                VmStatus status = VmStatus.of(observed, vm.definition().orElse(null));
                if (observed.state() == InstanceState.FAILED && wasLive) {
                    failed.add(status);
                } else if (isLive(observed.state())) {
                    adopted.add(status);
                }
            } catch (RuntimeException e) {
                LOG.warn("cannot recover VM {}: {}", name, e.getMessage());
            }
        }
        return new Recovery(adopted, failed, swept);
    }

    /** Creates and boots a new VM; returns once its guest agent is healthy. */
    public VmStatus run(VmSpec spec) {
        return create(spec, (vm, validated) -> backend.start(validated, vm.path(), vm));
    }

    /**
     * Creates a new VM's directory (lock, definition, secrets) and lets {@code start} launch it: how
     * {@link #run} boots one and {@link LocalClones} starts templates and clones.
     */
    VmStatus create(VmSpec spec, java.util.function.BiFunction<VmDirectory, VmSpec, VmHandle> start) {
        String name = spec.name().value();
        backend.validate(spec);
        try (VmLock lock = VmLock.acquire(lockFile(name))) {
            VmDirectory vm = new VmDirectory(vmsRoot.resolve(name));
            if (Files.exists(vm.path())) {
                if (vm.handle().isPresent()) {
                    throw new MvmException(ErrorCategory.ALREADY_EXISTS, "VM " + name + " already exists (destroy it first, or start it)");
                }
                DirectoryTree.delete(vm.path());
            }
            createPrivateDir(vm.path());
            vm.saveSecrets(spec.drive(io.mvm.runtime.backend.DriveSpec.Secrets.class)
                    .map(io.mvm.runtime.backend.DriveSpec.Secrets::entries).orElse(Map.of()));
            vm.saveDefinition(VmDefinition.of(spec));
            VmHandle handle;
            try {
                handle = start.apply(vm, spec);
            } catch (RuntimeException e) {
                if (vm.handle().isEmpty()) {
                    DirectoryTree.deleteQuietly(vm.path()); // refused before anything was journalled: leave nothing
                }
                throw e;
            }
            return VmStatus.of(handle, vm.definition().orElse(null));
        }
    }

    public List<VmStatus> list() {
        List<VmStatus> out = new ArrayList<>();
        for (Path dir : directories()) {
            VmDirectory vm = new VmDirectory(dir);
            try {
                vm.handle().ifPresent(handle -> out.add(VmStatus.of(observe(vm, handle), vm.definition().orElse(null))));
            } catch (RuntimeException e) {
                LOG.warn("cannot read VM {}: {}", dir.getFileName(), e.getMessage());
            }
        }
        out.sort(Comparator.comparing(VmStatus::name));
        return out;
    }

    /**
     * One VM, re-checked like {@link #list()} does (a live VMM is asked over its monitor), or
     * empty when there is no VM of that name. Costs one status query, not one per VM of the host.
     */
    public Optional<VmStatus> find(String name) {
        InstanceId.of(name);
        VmDirectory vm = new VmDirectory(vmsRoot.resolve(name));
        if (!Files.isDirectory(vm.path())) {
            return Optional.empty();
        }
        return vm.handle().map(handle -> VmStatus.of(observe(vm, handle), vm.definition().orElse(null)));
    }

    /**
     * Every VM as its handle last recorded it, without asking any VMM: for callers that need the
     * host's VMs as context (e.g. an instance's tenant peers) and would otherwise query every
     * monitor on every call. A VMM that died since its last check still shows its last state here.
     */
    public List<VmStatus> listRecorded() {
        List<VmStatus> out = new ArrayList<>();
        for (Path dir : directories()) {
            VmDirectory vm = new VmDirectory(dir);
            try {
                vm.handle().ifPresent(handle -> out.add(VmStatus.of(handle, vm.definition().orElse(null))));
            } catch (RuntimeException e) {
                LOG.warn("cannot read VM {}: {}", dir.getFileName(), e.getMessage());
            }
        }
        out.sort(Comparator.comparing(VmStatus::name));
        return out;
    }

    /** Re-checks a live VM without blocking behind an operation in progress on it. */
    private VmHandle observe(VmDirectory vm, VmHandle handle) {
        if (!isLive(handle.state())) {
            return handle;
        }
        Optional<VmLock> lock = VmLock.tryAcquire(lockFile(vm.name()));
        if (lock.isEmpty()) {
            return handle;
        }
        try (VmLock held = lock.get()) {
            return backend.recover(vm.handle().orElse(handle), vm);
        }
    }

    public VmStatus status(String name) {
        return withVm(name, (vm, handle) -> backend.recover(handle, vm));
    }

    public VmStatus pause(String name) {
        Pausable pausable = ability(Pausable.class, "pause");
        return withVm(name, (vm, handle) -> pausable.pause(handle, vm));
    }

    public VmStatus resume(String name) {
        Pausable pausable = ability(Pausable.class, "resume");
        return withVm(name, (vm, handle) -> pausable.resume(handle, vm));
    }

    public VmStatus sleep(String name, Duration drainDeadline) {
        Snapshottable snapshots = ability(Snapshottable.class, "sleep");
        return withVm(name, (vm, handle) -> snapshots.sleep(handle, drainDeadline, vm));
    }

    /** Restores a sleeping VM; {@code newSecrets}, when given, replaces its secrets first. */
    public VmStatus wake(String name, Optional<Map<String, String>> newSecrets) {
        Snapshottable snapshots = ability(Snapshottable.class, "wake");
        return withVm(name, (vm, handle) -> snapshots.wake(specFor(vm, newSecrets), handle, vm));
    }

    /**
     * Hands the warm VM {@code name}, booted for no tenant, to {@code claimed}'s owner: its new
     * definition and secrets are saved first (a relaunch then boots it as the tenant's), then the
     * backend rewrites its drives, resumes it and gives the guest {@code identity}.
     */
    public io.mvm.runtime.backend.Claimable.Claimed claim(String name, VmSpec claimed,
                                                          io.mvm.runtime.guest.GuestIdentity identity) {
        io.mvm.runtime.backend.Claimable claimable = ability(io.mvm.runtime.backend.Claimable.class, "claim");
        if (!claimed.name().value().equals(name)) {
            throw MvmException.invalid("a claim keeps the VM's name: " + name + " vs " + claimed.name());
        }
        return locked(name, (vm, handle, standing) -> {
            VmHandle current = backend.recover(handle, vm);
            current.requireState("claim", InstanceState.WARM);
            vm.saveSecrets(claimed.drive(io.mvm.runtime.backend.DriveSpec.Secrets.class)
                    .map(io.mvm.runtime.backend.DriveSpec.Secrets::entries).orElse(Map.of()));
            vm.saveDefinition(VmDefinition.of(claimed));
            return claimable.claim(standing, claimed, current, identity, vm);
        });
    }

    public VmStatus stop(String name, Duration grace) {
        return withVm(name, (vm, handle) -> backend.stop(handle, grace, vm));
    }

    /** Boots a stopped (or failed) VM again: same data drive, secrets rebuilt. */
    public VmStatus start(String name, Optional<Map<String, String>> newSecrets) {
        return withVm(name, (vm, handle) -> {
            VmHandle current = backend.recover(handle, vm);
            if (current.state() != InstanceState.STOPPED && current.state() != InstanceState.FAILED) {
                throw MvmException.precondition("cannot start VM " + name + " while it is " + current.state()
                        + (current.state() == InstanceState.SLEEPING ? " (wake it instead)" : ""));
            }
            VmSpec spec = specFor(vm, newSecrets);
            if (current.process() != null && current.process().isAlive()) {
                // FAILED with a live VMM (e.g. its monitor stopped answering): never run two VMMs on one disk.
                backend.stop(current, Duration.ofSeconds(5), vm);
            }
            return backend.start(spec, vm.path(), vm);
        });
    }

    public void destroy(String name) {
        InstanceId.of(name);
        try (VmLock lock = VmLock.acquire(lockFile(name))) {
            VmDirectory vm = new VmDirectory(vmsRoot.resolve(name));
            if (!Files.exists(vm.path())) {
                throw MvmException.notFound("no VM named " + name);
            }
            Optional<VmHandle> handle = vm.handle();
            if (handle.isPresent()) {
                backend.destroy(handle.get());
            }
            DirectoryTree.delete(vm.path());
        }
        try {
            Files.deleteIfExists(lockFile(name));
        } catch (IOException ignored) {
            // an empty lock file is harmless
        }
    }

    /**
     * Removes a VM but keeps its data: the VMM is ended (gracefully when it runs, so the guest's
     * writes reach the data disk; a stale snapshot of a running guest is dropped by the stop), and
     * the data disk and any valid snapshot are set aside in a new directory under
     * {@link #orphans()}. Used where the data may be the only copy of an instance that moved to
     * another host. Idempotent in effect: a VM that is gone has nothing to set aside (empty).
     *
     * <p>Crash safety: the secrets go first, then a note is written and the whole VM directory is
     * renamed into the orphans directory in one step (same filesystem), and only then is the rest
     * (sockets, logs, config drive, handle) removed there. So the data is always either in the VM
     * directory or in its orphan directory, never half-moved, and a crash at any point leaves no
     * secrets file in an orphan. (A snapshot is the guest's memory, secrets included: orphan
     * directories are 0700, like the VM directories they were.)
     *
     * @return the orphan directory, or empty when there was no such VM
     */
    public Optional<Path> setAside(String name, String reason, Duration grace) {
        InstanceId.of(name);
        Path target;
        try (VmLock lock = VmLock.acquire(lockFile(name))) {
            VmDirectory vm = new VmDirectory(vmsRoot.resolve(name));
            if (!Files.isDirectory(vm.path())) {
                return Optional.empty();
            }
            Optional<VmHandle> recorded = vm.handle();
            if (recorded.isPresent()) {
                VmHandle current = backend.recover(recorded.get(), vm);
                if (current.process() != null && current.process().isAlive()) {
                    backend.stop(current, grace, vm);
                }
            }
            DirectoryTree.deleteFilesQuietly(vm.secretsFile(), VmDrives.fileFor(vm.path(), DriveKind.SECRETS));
            orphans.createRoot();
            Instant at = clock.instant();
            target = orphans.newDirectory(name, at);
            Orphans.writeNote(vm.path(), name, reason, at);
            // No VMM may reach what is set aside (orphans/ is 0700 root); its user id is free again.
            backend.releaseDirectory(vm.path());
            try {
                Files.move(vm.path(), target, StandardCopyOption.ATOMIC_MOVE);
                AtomicFile.syncDirectory(orphans.root());
                AtomicFile.syncDirectory(vmsRoot);
            } catch (IOException e) {
                throw new MvmException(ErrorCategory.INTERNAL, "cannot move " + vm.path() + " to " + target + ": "
                        + e.getMessage(), e);
            }
            keepOnly(target);
        }
        try {
            Files.deleteIfExists(lockFile(name));
        } catch (IOException ignored) {
            // an empty lock file is harmless
        }
        return Optional.of(target);
    }

    /** In a set-aside VM directory: the note, the data disk and a complete snapshot stay; the rest goes. */
    private static void keepOnly(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                boolean keep = n.equals(Orphans.NOTE) || f.equals(VmDrives.fileFor(dir, DriveKind.DATA))
                        || (n.startsWith("snapshot.") && !n.endsWith(".partial") && !n.endsWith(".discard"));
                if (!keep) {
                    DirectoryTree.deleteQuietly(f);
                }
            }
        } catch (IOException e) {
            LOG.warn("cannot tidy the orphan directory {}: {}", dir, e.getMessage());
        }
    }

    /**
     * Completes, with the VM's status observed afterwards, once its current VMM process is gone
     * (exit, crash, kill -9, or a stop/sleep by someone else). An event source for the agent's
     * reconcile queue. Polls /proc on a virtual thread: a process-exit notification cannot be used
     * because the VMM is not our child, and where init does not reap, a killed VMM stays a zombie.
     */
    public java.util.concurrent.CompletableFuture<VmStatus> whenVmmExits(String name, Duration pollInterval) {
        var exited = new java.util.concurrent.CompletableFuture<VmStatus>();
        var process = handle(name).process();
        Thread.ofVirtual().name("vmm-exit-" + name).start(() -> {
            try {
                while (process != null && process.isAlive() && !exited.isDone()) {
                    Thread.sleep(pollInterval);
                }
                exited.complete(status(name));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                exited.completeExceptionally(e);
            } catch (RuntimeException e) {
                exited.completeExceptionally(e);
            }
        });
        return exited;
    }

    /** A connection to a running VM's guest agent; the caller closes it. */
    public GuestChannel guest(String name) {
        VmDirectory vm = existing(name);
        VmHandle handle = vm.handle().orElseThrow(() -> MvmException.notFound("VM " + name + " has no handle"));
        return backend.guestChannel(handle);
    }

    public VmHandle handle(String name) {
        return existing(name).handle().orElseThrow(() -> MvmException.notFound("VM " + name + " has no handle"));
    }

    public Path directory(String name) {
        return existing(name).path();
    }

    /**
     * Ends a VMM running on this VM's directory that its handle does not record (the runtime died
     * between launching it and journalling its pid); the backend proves it is this VM's own.
     */
    public java.util.OptionalLong endOrphanedVmm(String name) {
        Path dir = vmsRoot.resolve(InstanceId.of(name).value());
        return Files.isDirectory(dir) ? backend.endOrphanedVmm(dir) : java.util.OptionalLong.empty();
    }

    private VmSpec specFor(VmDirectory vm, Optional<Map<String, String>> newSecrets) {
        VmDefinition definition = vm.definition().orElseThrow(() ->
                new MvmException(ErrorCategory.FAILED_PRECONDITION, "VM " + vm.name() + " has no spec.json"));
        Map<String, String> secrets = newSecrets.orElseGet(vm::secrets);
        VmSpec spec = definition.toSpec(secrets);
        if (newSecrets.isPresent()) {
            vm.saveSecrets(secrets);
            vm.saveDefinition(VmDefinition.of(spec));
        }
        return spec;
    }

    /** Runs {@code operation} on an existing VM under its lock, with its directory, handle and spec. */
    <T> T locked(String name, Locked<T> operation) {
        try (VmLock lock = VmLock.acquire(lockFile(existing(name).name()))) {
            VmDirectory vm = existing(name);
            VmHandle handle = vm.handle().orElseThrow(() -> MvmException.notFound("VM " + name + " has no handle"));
            return operation.apply(vm, handle, specFor(vm, Optional.empty()));
        }
    }

    interface Locked<T> {
        T apply(VmDirectory vm, VmHandle handle, VmSpec spec);
    }

    private interface Operation {
        VmHandle apply(VmDirectory vm, VmHandle handle);
    }

    private VmStatus withVm(String name, Operation operation) {
        try (VmLock lock = VmLock.acquire(lockFile(existing(name).name()))) {
            VmDirectory vm = existing(name);
            VmHandle handle = vm.handle().orElseThrow(() -> MvmException.notFound("VM " + name + " has no handle"));
            return VmStatus.of(operation.apply(vm, handle), vm.definition().orElse(null));
        }
    }

    private VmDirectory existing(String name) {
        InstanceId.of(name);
        VmDirectory vm = new VmDirectory(vmsRoot.resolve(name));
        if (!Files.isDirectory(vm.path())) {
            throw MvmException.notFound("no VM named " + name);
        }
        return vm;
    }

    private <T> T ability(Class<T> type, String verb) {
        if (type.isInstance(backend)) {
            return type.cast(backend);
        }
        throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "the " + backend.name() + " backend cannot " + verb + " VMs");
    }

    private static boolean isLive(InstanceState state) {
        return switch (state) {
            // UNKNOWN: a live VMM whose monitor did not answer the last query.
            case RUNNING, WARM, CREATING, WAKING, PAUSING, SNAPSHOTTING, STOPPING, UNKNOWN -> true;
            default -> false;
        };
    }

    private Path lockFile(String name) {
        return vmsRoot.resolve("." + name + ".lock");
    }

    private List<Path> directories() {
        try (Stream<Path> s = Files.list(vmsRoot)) {
            return s.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot list " + vmsRoot + ": " + e.getMessage(), e);
        }
    }

    private static void createPrivateDir(Path dir) {
        try {
            Files.createDirectories(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

}

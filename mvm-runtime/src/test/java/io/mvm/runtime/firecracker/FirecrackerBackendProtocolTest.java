package io.mvm.runtime.firecracker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.image.GuestImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Protocol proof, not VM proof: FirecrackerBackend's whole lifecycle (create, pause, resume,
 * sleep = pause + full snapshot, wake = snapshot load into a new VMM, recover, stop) against the
 * spec-checking fake API. The injected launcher starts a fake API server at the socket path the
 * backend chose and a plain {@code sleep} process as the "VMM" (so pid checks and kills are real);
 * the guest agent is a scripted in-memory channel. Asserts the exact, spec-valid request sequence.
 */
class FirecrackerBackendProtocolTest {
    private static final FirecrackerSpec SPEC = FirecrackerSpec.load();

    private Path dir;
    private final List<FakeFirecrackerApi.Request> requests = new CopyOnWriteArrayList<>();
    private final List<FakeFirecrackerApi> fakes = new CopyOnWriteArrayList<>();
    private final List<Process> vmms = new CopyOnWriteArrayList<>();
    private final List<String> agentCalls = new CopyOnWriteArrayList<>();
    private final List<FirecrackerLauncher.Launch> launches = new CopyOnWriteArrayList<>();
    private final List<VmHandle> journal = new CopyOnWriteArrayList<>();
    private FirecrackerBackend backend;

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("mvm-fc-protocol-");
        FirecrackerLauncher launcher = launch -> {
            launches.add(launch);
            try {
                Process vmm = new ProcessBuilder("sleep", "600").start();
                vmms.add(vmm);
                FakeFirecrackerApi fake = new FakeFirecrackerApi(SPEC, launch.apiSocket(), requests);
                // A real guest reboots on Ctrl+Alt+Del and, with reboot=k, Firecracker exits.
                fake.onRequest(r -> {
                    if (r.body() != null && "SendCtrlAltDel".equals(r.body().path("action_type").asText())) {
                        vmm.destroyForcibly();
                    }
                });
                fakes.add(fake);
                return VmmProcess.of(vmm.pid()).orElseThrow();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        backend = new FirecrackerBackend(new FirecrackerBackend.Settings("firecracker", Duration.ofSeconds(20), Duration.ofSeconds(10)),
                new VmDrives(Ext4Image.system()), new CgroupLimits.Unavailable("not under test"),
                socket -> new ScriptedAgent(agentCalls), launcher, InstantSource.system());
    }

    @AfterEach
    void tearDown() throws IOException {
        for (Process vmm : vmms) {
            vmm.destroyForcibly();
        }
        for (FakeFirecrackerApi fake : fakes) {
            fake.close();
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private VmSpec spec() throws IOException {
        Path image = Files.createDirectories(dir.resolve("image"));
        // An ELF kernel is used as is; extraction from a bzImage is VmlinuxExtractorTest's business.
        Path kernel = Files.write(image.resolve("vmlinux"), new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0});
        Path initrd = Files.writeString(image.resolve("initramfs.cpio.gz"), "i");
        Path rootfs = Files.writeString(image.resolve("rootfs.ext4"), "r");
        GuestImage guest = new GuestImage("test", kernel, initrd, rootfs, "6.12-test", "console=ttyS0 quiet");
        return VmSpec.builder("fc-1", guest).vcpus(2).memoryMib(256).cmd("echo hi")
                .nic(new NicSpec("mvmt-fc1", "52:54:00:00:00:01", "10.0.0.2", 24, "10.0.0.1")).build();
    }

    @Test
    void aLiveVmmWhoseApiDoesNotAnswerIsUnknownAndNotJournalled() throws Exception {
        Path vmDir = Files.createDirectories(dir.resolve("vms/fc-1"));
        VmHandle running = backend.start(spec(), vmDir, journal::add);
        int journalled = journal.size();
        for (FakeFirecrackerApi fake : fakes) {
            fake.close(); // the VMM process lives on; its API no longer answers
        }

        VmHandle observed = backend.recover(running, journal::add);

        // Was FAILED, which the agent restarts, killing the VMM; FAILED only after the deadline (60 s).
        assertThat(observed.state()).isEqualTo(InstanceState.UNKNOWN);
        assertThat(observed.stateReason()).contains("API did not answer");
        assertThat(journal).hasSize(journalled);
        assertThat(running.process().isAlive()).isTrue();
    }

    @Test
    void fullLifecycleSendsExactlyTheExpectedSpecValidRequests() throws Exception {
        VmSpec spec = spec();
        Path vmDir = Files.createDirectories(dir.resolve("vms/fc-1"));
        HandleJournal recorder = journal::add;

        VmHandle running = backend.start(spec, vmDir, recorder);
        VmHandle warm = backend.pause(running, recorder);
        VmHandle resumed = backend.resume(warm, recorder);
        VmHandle sleeping = backend.sleep(resumed, Duration.ofSeconds(5), recorder);
        assertThat(Files.readString(sleeping.snapshot())).isEqualTo("vmstate");
        assertThat(Files.readString(FirecrackerBackend.memoryFile(sleeping.snapshot()))).isEqualTo("memory");
        assertThat(Files.getPosixFilePermissions(FirecrackerBackend.memoryFile(sleeping.snapshot())))
                .extracting(Object::toString).containsExactlyInAnyOrder("OWNER_READ", "OWNER_WRITE");
        assertThat(VmmProcess.of(running.pid())).as("the VMM ends after its snapshot").isEmpty();
        VmHandle awake = backend.wake(spec, sleeping, recorder);
        VmHandle recovered = backend.recover(awake, recorder);
        VmHandle stopped = backend.stop(recovered, Duration.ofSeconds(1), recorder);

        assertThat(requests).allSatisfy(r -> assertThat(r.violations()).as(r.describe()).isEmpty());
        assertThat(fakes).allSatisfy(f -> assertThat(f.responseViolations()).isEmpty());
        assertThat(requests).extracting(r -> r.describe() + (r.body() == null ? "" : " " + r.body())).containsExactly(
                "PUT /machine-config {\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false,\"track_dirty_pages\":false}",
                "PUT /boot-source {\"kernel_image_path\":\"" + spec.image().kernel() + "\",\"initrd_path\":\""
                        + spec.image().initramfs() + "\",\"boot_args\":\"" + FirecrackerBackend.bootArgs(spec) + "\"}",
                "PUT /drives/root {\"drive_id\":\"root\",\"path_on_host\":\"" + spec.image().rootfs()
                        + "\",\"is_root_device\":false,\"is_read_only\":true}",
                // The workload travels on the config drive, never on the kernel command line.
                "PUT /drives/config {\"drive_id\":\"config\",\"path_on_host\":\"" + vmDir.resolve("config.ext4")
                        + "\",\"is_root_device\":false,\"is_read_only\":true}",
                "PUT /network-interfaces/eth0 {\"iface_id\":\"eth0\",\"host_dev_name\":\"mvmt-fc1\",\"guest_mac\":\"52:54:00:00:00:01\"}",
                "PUT /vsock {\"guest_cid\":3,\"uds_path\":\"" + vmDir.resolve("vsock.sock") + "\"}",
                "PUT /actions {\"action_type\":\"InstanceStart\"}",
                "PATCH /vm {\"state\":\"Paused\"}",
                "PATCH /vm {\"state\":\"Resumed\"}",
                "PATCH /vm {\"state\":\"Paused\"}",
                "PUT /snapshot/create {\"snapshot_type\":\"Full\",\"snapshot_path\":\"" + vmDir.resolve("snapshot.vmstate.partial")
                        + "\",\"mem_file_path\":\"" + vmDir.resolve("snapshot.mem.partial") + "\"}",
                "PUT /snapshot/load {\"snapshot_path\":\"" + vmDir.resolve("snapshot.vmstate") + "\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\""
                        + vmDir.resolve("snapshot.mem") + "\"},\"resume_vm\":true}",
                "GET /",
                "PUT /actions {\"action_type\":\"SendCtrlAltDel\"}");

        assertThat(FirecrackerBackend.bootArgs(spec)).startsWith("console=ttyS0 quiet mvm.hostname=fc-1 mvm.ip=10.0.0.2/24 mvm.gw=10.0.0.1")
                .doesNotContain("mvm.cmd").doesNotContain("echo hi")
                .endsWith(" reboot=k panic=1 mvm.agent=vsock");
        assertThat(launches).hasSize(2).allSatisfy(l -> assertThat(l.command())
                .containsExactly("firecracker", "--api-sock", vmDir.resolve("fc.sock").toString(), "--id", "fc-1"));
        assertThat(agentCalls).containsExactly("health", "drain", "health", "reloadSecrets", "exec sync", "exec reboot -f");
        assertThat(journal).extracting(VmHandle::state).containsExactly(
                InstanceState.CREATING, InstanceState.CREATING, InstanceState.RUNNING,
                InstanceState.WARM, InstanceState.RUNNING,
                InstanceState.SNAPSHOTTING, InstanceState.SLEEPING,
                InstanceState.WAKING, InstanceState.WAKING, InstanceState.RUNNING, InstanceState.RUNNING,
                InstanceState.STOPPING, InstanceState.STOPPED);
        assertThat(awake.snapshot()).isNull();
        assertThat(vmDir.resolve("snapshot.vmstate")).doesNotExist();
        assertThat(vmDir.resolve("snapshot.mem")).doesNotExist();
        assertThat(stopped.state()).isEqualTo(InstanceState.STOPPED);
        assertThat(stopped.pid()).isZero();
        // The stand-in VMM is this JVM's child: its zombie is reaped asynchronously.
        assertThat(vmms.getLast().waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(backend.capabilities().guestChannel()).isEqualTo(io.mvm.runtime.backend.Capabilities.GuestChannelKind.VSOCK);
        assertThat(backend.capabilities().pause()).isTrue();
        assertThat(backend.capabilities().snapshot()).isTrue();
    }

    @Test
    void aRefusedConfigurationCallFailsTheStartAndLeavesNothingRunning() throws Exception {
        VmSpec spec = spec();
        Path vmDir = Files.createDirectories(dir.resolve("vms/fc-1"));
        // The fake refuses the first call of the new VMM, as Firecracker does for a bad kernel path.
        FirecrackerBackend refusing = new FirecrackerBackend(new FirecrackerBackend.Settings("firecracker", Duration.ofSeconds(20), Duration.ofSeconds(10)),
                new VmDrives(Ext4Image.system()), new CgroupLimits.Unavailable("not under test"),
                socket -> new ScriptedAgent(agentCalls), launch -> {
                    try {
                        Process vmm = new ProcessBuilder("sleep", "600").start();
                        vmms.add(vmm);
                        FakeFirecrackerApi fake = new FakeFirecrackerApi(SPEC, launch.apiSocket(), requests);
                        fake.failNext("Invalid machine configuration");
                        fakes.add(fake);
                        return VmmProcess.of(vmm.pid()).orElseThrow();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }, InstantSource.system());
        assertThatThrownBy(() -> refusing.start(spec, vmDir, journal::add))
                .hasMessageContaining("did not start")
                .hasMessageContaining("PUT /machine-config")
                .hasMessageContaining("Invalid machine configuration");
        assertThat(journal.getLast().state()).isEqualTo(InstanceState.FAILED);
        assertThat(journal.getLast().pid()).isZero();
        assertThat(vmms.getLast().waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void anOverlongKernelCommandLineIsRejectedBeforeAnythingStarts() throws IOException {
        VmSpec base = spec();
        // Image boot arguments longer than x86's 2047-byte limit (a workload no longer counts: it is on a drive).
        GuestImage img = base.image();
        GuestImage longArgs = new GuestImage(img.name(), img.kernel(), img.initramfs(), img.rootfs(), img.kernelVersion(),
                img.bootArgs() + " mvm.filler=" + "x".repeat(2100));
        VmSpec spec = VmSpec.builder("fc-1", longArgs).build();
        Path vmDir = Files.createDirectories(dir.resolve("vms/fc-1"));
        assertThatThrownBy(() -> backend.validate(spec))
                .isInstanceOfSatisfying(io.mvm.model.MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(io.mvm.model.ErrorCategory.INVALID_ARGUMENT))
                .hasMessageContaining("kernel command line");
        assertThatThrownBy(() -> backend.start(spec, vmDir, journal::add)).hasMessageContaining("kernel command line");
        assertThat(launches).isEmpty();
        assertThat(journal).isEmpty();
    }

    @Test
    void pausingAStoppedVmIsAFailedPrecondition() throws IOException {
        VmHandle stopped = new VmHandle(VmHandle.SCHEMA_VERSION, "fc-1", "firecracker", io.mvm.model.Accelerator.KVM,
                InstanceState.STOPPED, null, 0, 0, dir, dir.resolve("fc.sock"), dir.resolve("vsock.sock"),
                dir.resolve("serial.log"), null, null, null, java.time.Instant.EPOCH);
        assertThatThrownBy(() -> backend.pause(stopped, HandleJournal.NONE)).hasMessageContaining("while it is stopped");
        assertThat(requests).isEmpty();
    }

    @Test
    void aQemuHandleIsNotDrivenThroughTheFirecrackerApi() {
        VmHandle qemu = new VmHandle(VmHandle.SCHEMA_VERSION, "q-1", "qemu", io.mvm.model.Accelerator.TCG,
                InstanceState.RUNNING, null, ProcessHandle.current().pid(), 0, dir, dir.resolve("qmp.sock"),
                dir.resolve("agent.sock"), dir.resolve("serial.log"), null, null, null, java.time.Instant.EPOCH);
        List<VmHandle> written = new ArrayList<>();
        assertThatThrownBy(() -> backend.recover(qemu, written::add)).hasMessageContaining("use --backend qemu");
        assertThatThrownBy(() -> backend.destroy(qemu)).hasMessageContaining("use --backend qemu");
        assertThat(written).isEmpty();
        assertThat(dir).exists();
    }

    @Test
    void availabilityNamesBothRequirements() {
        FirecrackerBackend.Availability none = FirecrackerBackend.availability("firecracker-does-not-exist", dir.resolve("kvm"),
                java.util.Optional.empty());
        assertThat(none.available()).isFalse();
        assertThat(none.reason()).startsWith("Firecracker needs a firecracker binary on PATH and a working /dev/kvm")
                .contains("no 'firecracker-does-not-exist' binary on PATH", dir.resolve("kvm") + " does not exist");
    }

    /** An in-memory guest agent that records what the backend asks of it. */
    private static final class ScriptedAgent implements GuestChannel {
        private final List<String> calls;

        ScriptedAgent(List<String> calls) {
            this.calls = calls;
        }

        @Override
        public Health health(Duration timeout) {
            calls.add("health");
            return new Health(PROTOCOL_VERSION, "fc-1", 1.0, "6.12-test");
        }

        @Override
        public ExecResult exec(ExecRequest request) {
            calls.add("exec " + String.join(" ", request.argv()));
            return new ExecResult(0, new byte[0], new byte[0], false);
        }

        @Override
        public DrainResult drain(Duration deadline) {
            calls.add("drain");
            return new DrainResult(true, Duration.ZERO);
        }

        @Override
        public WorkloadStatus workload(Duration timeout) {
            calls.add("workload");
            return new WorkloadStatus("running", null);
        }

        @Override
        public void reloadSecrets(Duration timeout) {
            calls.add("reloadSecrets");
        }

        @Override
        public long applyIdentity(io.mvm.runtime.guest.GuestIdentity identity, Duration timeout) {
            calls.add("applyIdentity");
            return 1;
        }

        @Override
        public void close() {}
    }
}

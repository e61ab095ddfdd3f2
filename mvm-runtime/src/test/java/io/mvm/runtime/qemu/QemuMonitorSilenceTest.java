package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.Accelerator;
import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.drive.Ext4Image;
import io.mvm.runtime.drive.VmDrives;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How a live VMM whose QMP monitor does not answer is observed: UNKNOWN and not journalled until
 * the monitor has been silent for the deadline on the injected clock, then FAILED. The "VMM" is a
 * real {@code sleep} process and the monitor a socket that accepts but never greets (what a
 * stopped QEMU, or one whose monitor another client holds, looks like).
 */
class QemuMonitorSilenceTest {
    static final Instant T0 = Instant.parse("2026-12-03T10:00:00Z");

    @TempDir
    Path dir;
    ServerSocketChannel silentMonitor;
    Process vmm;
    final AtomicReference<Instant> now = new AtomicReference<>(T0);
    final List<VmHandle> journal = new CopyOnWriteArrayList<>();
    QemuBackend backend;

    @BeforeEach
    void setUp() throws Exception {
        silentMonitor = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        silentMonitor.bind(UnixDomainSocketAddress.of(dir.resolve("qmp.sock")));
        vmm = new ProcessBuilder("sleep", "300").start();
        InstantSource clock = now::get;
        var settings = new QemuBackend.Settings("qemu-system-x86_64", Accelerator.TCG, "test", Duration.ofSeconds(5),
                Duration.ofMillis(200), Duration.ofSeconds(60));
        backend = new QemuBackend(settings, new VmDrives(Ext4Image.system()), new CgroupLimits.Unavailable("test"),
                socket -> { throw new UnsupportedOperationException("no guest here"); }, clock);
    }

    @AfterEach
    void tearDown() throws Exception {
        silentMonitor.close();
        vmm.destroyForcibly().waitFor();
    }

    VmHandle running() {
        var process = VmmProcess.of(vmm.pid()).orElseThrow();
        return new VmHandle(VmHandle.SCHEMA_VERSION, "w1", "qemu", Accelerator.TCG, InstanceState.RUNNING, null,
                process.pid(), process.startTicks(), dir, dir.resolve("qmp.sock"), dir.resolve("agent.sock"),
                dir.resolve("serial.log"), null, null, null, T0);
    }

    @Test
    void aSilentMonitorIsUnknownUntilItsDeadlineThenFailed() {
        var handle = running();

        var first = backend.recover(handle, journal::add);
        assertThat(first.state()).isEqualTo(InstanceState.UNKNOWN);
        assertThat(first.stateReason()).contains("did not answer");
        assertThat(journal).as("the handle on disk keeps its last known state").isEmpty();

        now.set(T0.plusSeconds(59));
        assertThat(backend.recover(handle, journal::add).state()).isEqualTo(InstanceState.UNKNOWN);
        assertThat(journal).isEmpty();

        now.set(T0.plusSeconds(60));
        var failed = backend.recover(handle, journal::add);
        assertThat(failed.state()).isEqualTo(InstanceState.FAILED);
        assertThat(failed.stateReason()).contains("has not answered for 60 s");
        assertThat(journal).singleElement().satisfies(h -> assertThat(h.state()).isEqualTo(InstanceState.FAILED));
    }

    @Test
    void aDeadVmmIsFailedAtOnce() throws Exception {
        var handle = running();
        assertThat(backend.recover(handle, journal::add).state()).isEqualTo(InstanceState.UNKNOWN);

        vmm.destroyForcibly().waitFor();

        var observed = backend.recover(handle, journal::add);
        assertThat(observed.state()).isEqualTo(InstanceState.FAILED);
        assertThat(observed.stateReason()).contains("is gone");
    }

    @Test
    void theDeadlineMustBePositive() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> QemuBackend.Settings.defaults(Accelerator.TCG, "x")
                        .withMonitorDeadline(Duration.ZERO))
                .hasMessageContaining("deadline must be positive");
    }
}

package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mvm.runtime.testing.HostCapabilities;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The QMP client against a real QEMU microvm (no guest kernel needed: stop, cont, migrate and quit
 * work on an idle machine): events, errors, and a snapshot written through exec:cat.
 */
class QmpAgainstQemuIT {
    @TempDir
    Path dir;
    Process qemu;
    Thread reaper;

    @BeforeEach
    void launch() throws Exception {
        HostCapabilities.requireVmHost();
        reaper = io.mvm.runtime.testing.ProcessReaper.reapOnExit(dir);
        qemu = new ProcessBuilder(List.of("qemu-system-x86_64", "-M", "microvm,accel=tcg", "-nodefaults",
                "-no-user-config", "-nographic", "-m", "64", "-smp", "1",
                "-qmp", "unix:" + dir.resolve("qmp.sock") + ",server=on,wait=off"))
                .redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
    }

    @AfterEach
    void kill() throws Exception {
        if (qemu != null) {
            qemu.destroyForcibly();
            qemu.waitFor(30, TimeUnit.SECONDS);
        }
        if (reaper != null) {
            io.mvm.runtime.testing.ProcessReaper.cancel(reaper);
        }
    }

    @Test
    void pausesResumesSnapshotsAndQuitsARealQemu() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        try (QmpClient qmp = QmpClient.connect(dir.resolve("qmp.sock"), Duration.ofSeconds(60))) {
            qmp.addEventListener(e -> events.add(e.name()));
            assertThat(qmp.qemuVersion()).matches("\\d+\\.\\d+\\.\\d+");
            assertThat(qmp.execute("query-status", Duration.ofSeconds(30)).path("status").asText()).isEqualTo("running");

            qmp.execute("stop", Duration.ofSeconds(30));
            assertThat(qmp.execute("query-status", Duration.ofSeconds(30)).path("status").asText()).isEqualTo("paused");
            qmp.execute("cont", Duration.ofSeconds(30));
            await().atMost(30, TimeUnit.SECONDS).until(() -> events.containsAll(List.of("STOP", "RESUME")));

            assertThatThrownBy(() -> qmp.execute("no-such-command", Duration.ofSeconds(30)))
                    .isInstanceOfSatisfying(QmpException.class, e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));

            Path snapshot = dir.resolve("snap.bin");
            qmp.execute("stop", Duration.ofSeconds(30));
            qmp.execute("migrate", Map.of("uri", "exec:cat > " + io.mvm.core.shell.ShellWords.quote(snapshot.toString())), Duration.ofSeconds(30));
            await().atMost(120, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100)).until(() ->
                    qmp.execute("query-migrate", Duration.ofSeconds(30)).path("status").asText().equals("completed"));
            assertThat(Files.size(snapshot)).isGreaterThan(1024);

            try {
                qmp.execute("quit", Duration.ofSeconds(30));
            } catch (QmpException closedFirst) {
                // QEMU may close the socket before its reply arrives
            }
        }
        assertThat(qemu.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(events).contains("SHUTDOWN");
    }
}

package io.mvm.runtime.firecracker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.runtime.backend.VmmProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real detached launcher with a stand-in executable (a short Python program that binds the
 * {@code --api-sock} path the way Firecracker does and then idles): proves the process is started
 * in its own session, outlives the launching shell, writes its pid, and is waited for until its
 * API socket accepts connections. Not a VM test.
 */
class FirecrackerLauncherIT {
    private Path dir;
    private VmmProcess started;

    @BeforeEach
    void setUp() throws IOException {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3 for the stand-in binary");
        dir = Files.createTempDirectory("mvm-fc-launcher-");
    }

    @AfterEach
    void tearDown() throws IOException {
        if (started != null) {
            started.kill();
        }
        if (dir != null) {
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private Path standIn(String body) throws IOException {
        Path script = dir.resolve("fake-firecracker");
        Files.writeString(script, "#!/usr/bin/python3\n" + body);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private FirecrackerLauncher.Launch launch(Path binary) {
        return new FirecrackerLauncher.Launch(List.of(binary.toString(), "--api-sock", dir.resolve("fc.sock").toString()),
                dir, dir.resolve("fc.sock"), dir.resolve("serial.log"), dir.resolve("firecracker.pid"), List.of(),
                Duration.ofSeconds(60));
    }

    @Test
    void startsDetachedInItsOwnSessionAndWaitsForTheApiSocket() throws Exception {
        Path binary = standIn("""
                import socket, sys, time
                path = sys.argv[sys.argv.index('--api-sock') + 1]
                print('fake firecracker starting', flush=True)
                time.sleep(0.5)  # the launcher must wait for the socket, not just for the process
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.bind(path)
                s.listen(8)
                while True:
                    c, _ = s.accept()
                    c.close()
                """);
        started = FirecrackerLauncher.DETACHED.launch(launch(binary));
        assertThat(started.isAlive()).isTrue();
        assertThat(Files.readString(dir.resolve("firecracker.pid")).strip()).isEqualTo(Long.toString(started.pid()));
        assertThat(dir.resolve("fc.sock")).exists();
        String[] stat = Files.readString(Path.of("/proc", Long.toString(started.pid()), "stat")).split("\\) ")[1].split(" ");
        long session = Long.parseLong(stat[3]);
        long ourSession = Long.parseLong(Files.readString(Path.of("/proc/self/stat")).split("\\) ")[1].split(" ")[3]);
        assertThat(session).as("own session (setsid)").isEqualTo(started.pid()).isNotEqualTo(ourSession);
        assertThat(ProcessHandle.of(started.pid()).flatMap(ProcessHandle::parent).map(ProcessHandle::pid))
                .as("not a child of this JVM").isNotEqualTo(java.util.Optional.of(ProcessHandle.current().pid()));
        assertThat(Files.readString(dir.resolve("serial.log"))).contains("fake firecracker starting");
    }

    @Test
    void aBinaryThatExitsBeforeOpeningItsSocketIsAClearError() throws Exception {
        Path binary = standIn("import sys\nprint('bad kvm', flush=True)\nsys.exit(1)\n");
        assertThatThrownBy(() -> started = FirecrackerLauncher.DETACHED.launch(launch(binary)))
                .hasMessageMatching("(?s).*(exited right after starting|exited before opening its API socket).*")
                .hasMessageContaining("serial.log");
        assertThat(Files.readString(dir.resolve("serial.log"))).contains("bad kvm");
    }
}

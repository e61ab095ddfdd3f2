package io.mvm.cli.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code --backend}: an unknown name is bad input (exit 2); Firecracker on a host that cannot run
 * it is a failed precondition (exit 5) reported before any image is fetched or directory made.
 */
class BackendOptionTest {
    private Path dataDir;

    @BeforeEach
    void setUp() throws IOException {
        dataDir = Files.createTempDirectory("mvm-cli-backend-");
    }

    @AfterEach
    void tearDown() throws IOException {
        try (Stream<Path> walk = Files.walk(dataDir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static boolean firecrackerRunsHere() {
        return io.mvm.runtime.firecracker.FirecrackerBackend.availability("firecracker", Path.of("/dev/kvm"),
                java.util.Optional.empty()).available();
    }

    @Test
    void anUnknownBackendIsInvalidInput() {
        assertThat(Main.run("vm", "list", "--backend", "xen", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(Main.run("vm", "run", "a", "--backend", "xen", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(dataDir.resolve("images")).doesNotExist();
    }

    @Test
    void firecrackerWithoutBinaryOrKvmFailsBeforeAnythingIsFetched() {
        org.junit.jupiter.api.Assumptions.assumeFalse(firecrackerRunsHere(), "this host can run Firecracker");
        assertThat(Main.run("vm", "run", "a", "--backend", "firecracker", "--data-dir", dataDir.toString())).isEqualTo(5);
        assertThat(Main.run("vm", "list", "--backend", "firecracker", "--data-dir", dataDir.toString())).isEqualTo(5);
        assertThat(dataDir.resolve("images")).doesNotExist();
        assertThat(dataDir.resolve("vms")).doesNotExist();
    }
}

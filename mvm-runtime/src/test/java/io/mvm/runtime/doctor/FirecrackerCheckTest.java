package io.mvm.runtime.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.accel.AcceleratorProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mvm doctor} reports Firecracker as an optional backend: WARN with the reason, never FAIL. */
class FirecrackerCheckTest {

    private static boolean firecrackerOnPath() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isBlank() && Files.isExecutable(Path.of(dir, "firecracker"))) {
                return true;
            }
        }
        return false;
    }

    @Test
    void warnsWithTheReasonWhenFirecrackerCannotRunHere(@TempDir Path dataDir) {
        CheckResult result = new HostChecks(dataDir, Optional::empty, AcceleratorProbe.standard(InstantSource.system()), false,
                Optional.empty()).firecracker();
        assertThat(result.name()).isEqualTo("firecracker");
        assertThat(result.status()).isNotEqualTo(CheckResult.Status.FAIL);
        if (!firecrackerOnPath()) {
            assertThat(result.status()).isEqualTo(CheckResult.Status.WARN);
            assertThat(result.detail()).startsWith("Firecracker needs a firecracker binary on PATH and a working /dev/kvm")
                    .contains("no 'firecracker' binary on PATH");
            assertThat(result.fix()).contains("--backend qemu");
        }
    }
}

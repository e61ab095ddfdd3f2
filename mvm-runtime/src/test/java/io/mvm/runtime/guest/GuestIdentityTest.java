package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.MvmException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GuestIdentityTest {
    private static final Instant NOW = Instant.parse("2026-12-03T10:00:00.750Z");

    @Test
    void aCloneGetsEntropyTimeHostnameNetworkMachineIdAndItsWorkloadOnTheWire() {
        GuestIdentity identity = GuestIdentity.forClone(NOW, new SplittableRandom(7), "clone-1",
                Optional.of(new GuestIdentity.Network("52:54:00:00:00:01", "10.0.0.5/24", "10.0.0.1")),
                Optional.of("echo hi"), Map.of("B", "2", "A", "1"));
        List<AgentRequest.AgentField> fields = new AgentRequest.CloneIdentity(identity).fields();
        assertThat(fields).extracting(AgentRequest.AgentField::key)
                .containsExactly("entropy", "time", "hostname", "mac", "ip", "gw", "machine-id", "drives", "cmd", "env");
        assertThat(fields.get(0).value()).hasSize(GuestIdentity.MIN_ENTROPY_BYTES);
        assertThat(fields.get(1).text()).isEqualTo(Long.toString(NOW.getEpochSecond()));
        assertThat(fields.get(6).text()).matches("[0-9a-f]{32}");
        assertThat(fields.get(7).text()).isEqualTo("true");
        assertThat(fields.get(9).text()).isEqualTo("A=1\nB=2\n");
        String line = AgentProtocol.encodeRequest(1, 42, new AgentRequest.CloneIdentity(identity));
        assertThat(line).startsWith("mvm 1 42 clone-identity entropy=").endsWith(" .\n");
        assertThat(line.strip()).doesNotContain("\n");
    }

    @Test
    void aWakeOnlyMovesRngClockAndGeneration() {
        GuestIdentity identity = GuestIdentity.afterWake(NOW, new SplittableRandom(7));
        assertThat(new AgentRequest.CloneIdentity(identity).fields()).extracting(AgentRequest.AgentField::key)
                .containsExactly("entropy", "time", "drives");
    }

    @Test
    void twoClonesNeverShareEntropyOrMachineId() {
        SplittableRandom random = new SplittableRandom(1);
        GuestIdentity a = GuestIdentity.forClone(NOW, random, "a", Optional.empty(), Optional.empty(), Map.of());
        GuestIdentity b = GuestIdentity.forClone(NOW, random, "b", Optional.empty(), Optional.empty(), Map.of());
        assertThat(a.entropy()).isNotEqualTo(b.entropy());
        assertThat(a.machineId()).isNotEqualTo(b.machineId());
    }

    @Test
    void badInputIsRefusedAndEntropyNeverPrinted() {
        assertThatThrownBy(() -> new GuestIdentity(new byte[8], NOW, Optional.empty(), Optional.empty(), Optional.empty(),
                false, Optional.empty(), Map.of())).isInstanceOf(MvmException.class).hasMessageContaining("64 bytes");
        assertThatThrownBy(() -> new GuestIdentity(new byte[64], NOW, Optional.empty(), Optional.empty(), Optional.of("XYZ"),
                false, Optional.empty(), Map.of())).isInstanceOf(MvmException.class).hasMessageContaining("machine-id");
        byte[] entropy = new byte[64];
        java.util.Arrays.fill(entropy, (byte) 0x41);
        GuestIdentity identity = new GuestIdentity(entropy, NOW, Optional.empty(), Optional.empty(), Optional.empty(),
                false, Optional.empty(), Map.of());
        assertThat(identity.toString()).doesNotContain("AAAA").doesNotContain("QUFB");
    }
}

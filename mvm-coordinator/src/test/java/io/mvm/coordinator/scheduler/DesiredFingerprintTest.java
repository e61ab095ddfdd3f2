package io.mvm.coordinator.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The fingerprint that decides whether a node's generation moves. */
class DesiredFingerprintTest {

    private static DesiredEntry entry(List<String> cmd, Map<String, String> env, Map<String, String> secrets) {
        return new DesiredEntry("i-1", "acme", "w", "worker", "running", 1, 256, 512, "10.240.0.2", 24, "10.240.0.1",
                "02:00:00:00:00:01", 1, cmd, env, secrets, Map.of(), "r1", null);
    }

    @Test
    void equalListsHashEquallyWhateverTheMapOrder() {
        Map<String, String> ab = new LinkedHashMap<>();
        ab.put("A", "1");
        ab.put("B", "2");
        Map<String, String> ba = new LinkedHashMap<>();
        ba.put("B", "2");
        ba.put("A", "1");
        assertThat(Scheduler.hash(List.of(entry(List.of("x"), ab, Map.of()))))
                .isEqualTo(Scheduler.hash(List.of(entry(List.of("x"), ba, Map.of()))));
    }

    @Test
    void anyChangeMovesTheHashIncludingSecretsAndBoundaries() {
        String base = Scheduler.hash(List.of(entry(List.of("a", "b"), Map.of(), Map.of("k", "v"))));
        assertThat(Scheduler.hash(List.of(entry(List.of("ab"), Map.of(), Map.of("k", "v"))))).isNotEqualTo(base);
        assertThat(Scheduler.hash(List.of(entry(List.of("a", "b"), Map.of(), Map.of("k", "w"))))).isNotEqualTo(base);
        assertThat(Scheduler.hash(List.of(entry(List.of("a", "b"), Map.of("k", "v"), Map.of())))).isNotEqualTo(base);
        assertThat(Scheduler.hash(List.of())).isNotEqualTo(base).isNotEmpty();
        assertThat(Scheduler.hash(List.of(entry(List.of("a", "b"), Map.of(), Map.of("k", "v"))))).isEqualTo(base);
    }
}

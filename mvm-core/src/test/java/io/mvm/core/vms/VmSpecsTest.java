package io.mvm.core.vms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VmSpecsTest {
    private static VmSpecDraft draft(Map<String, String> env, Map<String, String> secrets, List<String> cmd,
                                     VmSpecDraft.WarmPool warm) {
        return new VmSpecDraft(null, "rootfs-web.ext4", "vmlinux", cmd, env, secrets,
                new VmSpecDraft.Resources(2, 512L), "service", warm,
                List.of(new VmSpecDraft.Port(8080, 0, "tcp"), new VmSpecDraft.Port(9090, 0, null)), null);
    }

    private static Map<String, String> ordered(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void theHashIgnoresKeyOrderSecretsAndWarmPoolSizesButNotWhatTheVmRuns() {
        List<String> cmd = List.of("/app/bin/server", "--port", "8080");
        String base = VmSpecs.hash(VmSpecs.validate(draft(ordered("A", "1", "B", "2"), Map.of(), cmd, null), "spec"));
        assertThat(base).hasSize(64);
        // env key order, secrets, warm pool sizes: same hash
        assertThat(VmSpecs.hash(VmSpecs.validate(draft(ordered("B", "2", "A", "1"), Map.of("TOKEN", "s3cret"), cmd,
                new VmSpecDraft.WarmPool(2, 5)), "spec"))).isEqualTo(base);
        // ports in another order: same hash
        var reordered = new VmSpecDraft(null, "rootfs-web.ext4", "vmlinux", cmd, ordered("A", "1", "B", "2"), null,
                new VmSpecDraft.Resources(2, 512L), "service", null,
                List.of(new VmSpecDraft.Port(9090, 0, "tcp"), new VmSpecDraft.Port(8080, null, "tcp")), null);
        assertThat(VmSpecs.hash(VmSpecs.validate(reordered, "spec"))).isEqualTo(base);
        // what the VM runs: a different hash
        assertThat(VmSpecs.hash(VmSpecs.validate(draft(ordered("A", "1", "B", "3"), Map.of(), cmd, null), "spec")))
                .isNotEqualTo(base);
        assertThat(VmSpecs.hash(VmSpecs.validate(draft(ordered("A", "1", "B", "2"), Map.of(),
                List.of("/app/bin/server", "8080", "--port"), null), "spec"))).isNotEqualTo(base);
        var bigger = new VmSpecDraft(null, "rootfs-web.ext4", "vmlinux", cmd, ordered("A", "1", "B", "2"), null,
                new VmSpecDraft.Resources(2, 1024L), "service", null, List.of(new VmSpecDraft.Port(8080, 0, "tcp"),
                new VmSpecDraft.Port(9090, 0, null)), null);
        assertThat(VmSpecs.hash(VmSpecs.validate(bigger, "spec"))).isNotEqualTo(base);
        // field boundaries cannot be shifted: ["ab","c"] and ["a","bc"] differ
        var ab = VmSpecs.validate(draft(Map.of(), Map.of(), List.of("ab", "c"), null), "spec");
        var bc = VmSpecs.validate(draft(Map.of(), Map.of(), List.of("a", "bc"), null), "spec");
        assertThat(VmSpecs.hash(ab)).isNotEqualTo(VmSpecs.hash(bc));
    }

    @Test
    void everyProblemIsListedWithItsField() {
        var bad = new VmSpecDraft("web", "../etc/passwd", null, List.of(), Map.of("1BAD", "x"), null,
                new VmSpecDraft.Resources(0, 16L), "forever", new VmSpecDraft.WarmPool(3, 1),
                List.of(new VmSpecDraft.Port(0, null, null), new VmSpecDraft.Port(80, 70000, "udp")), null);
        assertThatThrownBy(() -> VmSpecs.validate(bad, "spec")).isInstanceOfSatisfying(VmSpecException.class,
                e -> assertThat(e.problems()).containsExactly(
                        "spec.rootfs must be a name of letters, digits, '.', '_' or '-' (no path), got '../etc/passwd'",
                        "spec.cmd is required: a non-empty list of strings",
                        "spec.env name '1BAD' is invalid: letters, digits, '_', '.' or '-', starting with a letter or '_'",
                        "spec.resources.vcpu must be 1-64, got 0",
                        "spec.resources.mem_mb must be 64-1048576, got 16",
                        "spec.lifecycle must be service, job or daemon, got 'forever'",
                        "spec.warm_pool.max must be min-100 (min is 3), got 1",
                        "spec.ports[0].guest must be a port 1-65535",
                        "spec.ports[1].host must be 0-65535 (0: any), got 70000",
                        "spec.ports[1].protocol must be tcp, got 'udp'"));
        assertThatThrownBy(() -> VmSpecs.validate(new VmSpecDraft("t", "r", null, List.of("x"), null, null,
                new VmSpecDraft.Resources(1, 64L), "job", null, null, null), "spec"))
                .hasMessageContaining("spec.template excludes spec.rootfs");
        assertThatThrownBy(() -> VmSpecs.validate(new VmSpecDraft(null, null, null, List.of("x"), null, null, null,
                null, null, null, null), "vms[2].spec")).isInstanceOfSatisfying(VmSpecException.class,
                e -> assertThat(e.problems()).containsExactly("vms[2].spec.resources is required: {vcpu, mem_mb}",
                        "vms[2].spec.lifecycle is required: service, job or daemon"));
    }

    @Test
    void secretsStayOutOfTheStoredFormAndOfToString() {
        var spec = VmSpecs.validate(draft(Map.of(), Map.of("TOKEN", "s3cret"), List.of("x"), null), "spec");
        assertThat(spec.withoutSecrets().secrets()).isEmpty();
        assertThat(spec.toString()).doesNotContain("s3cret").contains("TOKEN");
        assertThat(spec.warmMin()).isZero();
    }

    @Test
    void anIdlePolicyIsValidatedWithDefaultsAndDoesNotChangeTheHash() {
        List<String> cmd = List.of("httpd");
        var without = VmSpecs.validate(draft(Map.of(), Map.of(), cmd, null), "spec");
        assertThat(without.idle()).isEmpty();
        var with = new VmSpecDraft(null, "rootfs-web.ext4", "vmlinux", cmd, Map.of(), null,
                new VmSpecDraft.Resources(2, 512L), "service", null,
                List.of(new VmSpecDraft.Port(8080, 0, "tcp"), new VmSpecDraft.Port(9090, 0, null)),
                new VmSpecDraft.Idle("2s", "5s", null, null));
        var spec = VmSpecs.validate(with, "spec");
        assertThat(spec.idle()).hasValueSatisfying(p -> {
            assertThat(p.warmAfter()).hasSeconds(2);
            assertThat(p.sleepAfter()).hasSeconds(5);
            assertThat(p.minRuntime()).isEqualTo(io.mvm.core.scale.IdlePolicy.DEFAULTS.minRuntime());
        });
        assertThat(VmSpecs.hash(spec)).as("when a VM idles is policy, not what it is").isEqualTo(VmSpecs.hash(without));
        assertThat(spec.withoutSecrets().idle()).isEqualTo(spec.idle());

        var bad = new VmSpecDraft(null, "rootfs-web.ext4", "vmlinux", cmd, Map.of(), null,
                new VmSpecDraft.Resources(2, 512L), "service", null, null, new VmSpecDraft.Idle("soon", "1s", "2x", 2.0));
        assertThatThrownBy(() -> VmSpecs.validate(bad, "spec")).isInstanceOfSatisfying(VmSpecException.class,
                e -> assertThat(e.problems()).hasSize(2).allMatch(p -> p.startsWith("spec.idle."))
                        .anyMatch(p -> p.contains("warm_after")).anyMatch(p -> p.contains("min_runtime")));
        var backwards = new VmSpecDraft(null, "rootfs-web.ext4", "vmlinux", cmd, Map.of(), null,
                new VmSpecDraft.Resources(2, 512L), "service", null, null, new VmSpecDraft.Idle("10s", "5s", null, null));
        assertThatThrownBy(() -> VmSpecs.validate(backwards, "spec")).isInstanceOfSatisfying(VmSpecException.class,
                e -> assertThat(e.problems()).singleElement().asString().startsWith("spec.idle: ").contains("sleep_after"));
    }
}

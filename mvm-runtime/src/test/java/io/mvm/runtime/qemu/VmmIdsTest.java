package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Host-wide VMM user ids: one per directory, stable for it, freed with it. */
class VmmIdsTest {
    @TempDir Path tmp;

    @Test
    void eachDirectoryHoldsItsOwnIdUntilItIsGone() throws Exception {
        VmmIds ids = new VmmIds(new VmmSandbox(true, 1_900_000_000, 4, tmp.resolve("registry")));
        Path a = Files.createDirectories(tmp.resolve("vms/a"));
        Path b = Files.createDirectories(tmp.resolve("vms/b"));
        Path c = Files.createDirectories(tmp.resolve("vms/c"));
        Path d = Files.createDirectories(tmp.resolve("vms/d"));
        Set<Integer> taken = new HashSet<>();
        for (Path dir : new Path[] {a, b, c, d}) {
            int id = ids.claim(dir, Optional.empty());
            assertThat(id).isBetween(1_900_000_000, 1_900_000_003);
            assertThat(taken.add(id)).as("ids are never shared").isTrue();
        }
        int idA = ids.claim(a, Optional.empty());
        assertThat(ids.claim(a, Optional.of(idA))).as("a directory keeps its id").isEqualTo(idA);
        assertThat(ids.claim(a, Optional.empty())).isEqualTo(idA);

        Path e = Files.createDirectories(tmp.resolve("vms/e"));
        assertThatThrownBy(() -> ids.claim(e, Optional.empty())).isInstanceOfSatisfying(MvmException.class,
                ex -> assertThat(ex.category()).isEqualTo(ErrorCategory.RESOURCE_EXHAUSTED));

        ids.release(b, ids.claim(b, Optional.empty()));
        Files.delete(c); // gone without a release: its claim is stale and swept
        int idE = ids.claim(e, Optional.empty());
        assertThat(idE).isNotEqualTo(idA);
        assertThat(ids.holder(idE)).contains(e.toString());
        try (var files = Files.list(tmp.resolve("registry"))) {
            assertThat(files.filter(f -> !f.getFileName().toString().startsWith(".")).count())
                    .as("a, d and e: b released, c swept").isEqualTo(3);
        }
    }
}

package io.mvm.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SecretInputsTest {
    @TempDir Path dir;

    @Test
    void secretsComeFromFilesAsWellAsInline() throws Exception {
        Path file = dir.resolve("api-key");
        Files.writeString(file, "from-a-file");
        assertThat(SecretInputs.merge(Map.of("a", "1"), Map.of("key", file))).contains(Map.of("a", "1", "key", "from-a-file"));
        assertThat(SecretInputs.merge(null, null)).isEmpty();
        assertThat(SecretInputs.merge(Map.of(), Map.of())).contains(Map.of());
        assertThatThrownBy(() -> SecretInputs.merge(Map.of("key", "1"), Map.of("key", file))).hasMessageContaining("both");
        assertThatThrownBy(() -> SecretInputs.merge(null, Map.of("k", dir.resolve("missing")))).hasMessageContaining("cannot read");
    }

    @Test
    void aTokenComesFromItsFileElseTheEnvironment() throws Exception {
        Path file = dir.resolve("token");
        Files.writeString(file, "mvmt_abc\n");
        assertThat(SecretInputs.fileOrEnv(file, "MVM_TOKEN", Map.of("MVM_TOKEN", "env"))).contains("mvmt_abc");
        assertThat(SecretInputs.fileOrEnv(null, "MVM_TOKEN", Map.of("MVM_TOKEN", " env "))).contains("env");
        assertThat(SecretInputs.fileOrEnv(null, "MVM_TOKEN", Map.of())).isEqualTo(Optional.empty());
    }
}

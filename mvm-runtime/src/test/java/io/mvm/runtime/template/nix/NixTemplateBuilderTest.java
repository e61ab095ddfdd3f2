package io.mvm.runtime.template.nix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.mvm.model.Role;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NixTemplateBuilderTest {
    static JsonNode manifest(String toml) throws Exception {
        return new TomlMapper().readTree(toml);
    }

    @Test
    void withAManifestTheRoleAwarePackageIsBuilt() throws Exception {
        JsonNode m = manifest("""
                [meta]
                version = 1
                [profiles.minimal]
                module = "guests/profiles/minimal.nix"
                [roles.worker]
                module = "roles/worker.nix"
                requires_config_drive = false
                requires_secrets_drive = true
                """);
        assertThat(NixTemplateBuilder.attribute(Optional.of(m), Role.WORKER, "minimal"))
                .isEqualTo("packages.x86_64-linux.tenant-worker-minimal");
        assertThatThrownBy(() -> NixTemplateBuilder.attribute(Optional.of(m), Role.GATEWAY, "python"))
                .hasMessage("the flake's mvm-profiles.toml has no [profiles.python] and [roles.gateway]");
    }

    @Test
    void withoutAManifestTheLegacyProfilePackageIsBuilt() {
        assertThat(NixTemplateBuilder.attribute(Optional.empty(), Role.GATEWAY, "python")).isEqualTo("tenant-python");
    }

    @Test
    void localFlakePathsAreReadFromTheTemplateFilesDirectory() {
        Path dir = Path.of("/srv/templates");
        assertThat(NixTemplateBuilder.flakeRef(".", dir)).isEqualTo("/srv/templates");
        assertThat(NixTemplateBuilder.flakeRef("./nix/flake", dir)).isEqualTo("/srv/templates/nix/flake");
        assertThat(NixTemplateBuilder.flakeRef("path:../f", dir)).isEqualTo("path:/srv/f");
        assertThat(NixTemplateBuilder.flakeRef("github:acme/guests", dir)).isEqualTo("github:acme/guests");
    }
}

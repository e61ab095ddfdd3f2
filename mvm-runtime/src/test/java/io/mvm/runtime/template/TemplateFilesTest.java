package io.mvm.runtime.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.template.ConfigProblem;
import io.mvm.core.template.TemplateConfigException;
import io.mvm.core.template.TemplateSource;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateFilesTest {
    @TempDir
    Path dir;

    @Test
    void readsATemplateFile() throws Exception {
        Path file = Files.writeString(dir.resolve("web.toml"), """
                template_id = "web"
                [source.oci]
                archive = "web.tar"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 256
                """);
        assertThat(TemplateFiles.readConfig(file).source())
                .isEqualTo(new TemplateSource.Oci(new TemplateSource.Location.Archive("web.tar"), java.util.Optional.empty()));
    }

    @Test
    void aSyntaxErrorNamesTheParsersLine() throws Exception {
        Path file = Files.writeString(dir.resolve("bad.toml"), """
                template_id = "web"
                [source.oci]
                layout = "/x"
                vcpus = = 2
                """);
        assertThatThrownBy(() -> TemplateFiles.readConfig(file))
                .isInstanceOfSatisfying(TemplateConfigException.class, e -> {
                    assertThat(e.problems()).extracting(ConfigProblem::line).containsExactly(4);
                    assertThat(e.getMessage()).startsWith(file + ": 1 problem; line 4: TOML syntax:");
                });
    }

    @Test
    void aMissingFileIsNotFound() {
        assertThatThrownBy(() -> TemplateFiles.readConfig(dir.resolve("nope.toml")))
                .hasMessageContaining("cannot read template file");
    }
}

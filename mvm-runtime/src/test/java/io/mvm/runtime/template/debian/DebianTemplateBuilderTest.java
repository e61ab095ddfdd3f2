package io.mvm.runtime.template.debian;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.template.TemplateSource;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.TemplateStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DebianTemplateBuilderTest {
    @TempDir
    Path dir;

    DebianTemplateBuilder builderAt(String instant) {
        BaseImage base = new BaseImage(new GuestImage("default", dir.resolve("k"), dir.resolve("i"), dir.resolve("r"), "6.12", "console=ttyS0"),
                "aa", "bb");
        return new DebianTemplateBuilder(new TemplateStore(dir, InstantSource.system()), base, null,
                InstantSource.fixed(Instant.parse(instant)), Duration.ofMinutes(1));
    }

    @Test
    void theCommandIsMinbaseWithThePackagesIntoADirectory() {
        TemplateSource.Debian source = new TemplateSource.Debian("bookworm", List.of("jq", "curl"), Map.of());
        assertThat(DebianTemplateBuilder.mmdebstrapCommand(source, Path.of("/s/tree"))).containsExactly(
                "mmdebstrap", "--mode=root", "--format=directory", "--variant=minbase", "--include=jq,curl", "bookworm", "/s/tree");
        assertThat(DebianTemplateBuilder.mmdebstrapCommand(new TemplateSource.Debian("trixie", List.of(), Map.of()), Path.of("/t")))
                .containsExactly("mmdebstrap", "--mode=root", "--format=directory", "--variant=minbase", "trixie", "/t");
    }

    @Test
    void theLockHashIsThePackageListTheFilesAndTheArchiveDay() throws Exception {
        Path motd = Files.writeString(dir.resolve("motd"), "hi");
        TemplateSource.Debian source = new TemplateSource.Debian("bookworm", List.of("jq", "curl"), Map.of("/etc/motd", "motd"));
        Map<String, Path> files = Map.of("/etc/motd", motd);
        String morning = builderAt("2026-12-03T06:00:00Z").lockHash(source, files);
        assertThat(builderAt("2026-12-03T23:59:00Z").lockHash(source, files)).isEqualTo(morning);
        assertThat(builderAt("2026-12-03T06:00:00Z").lockHash(
                new TemplateSource.Debian("bookworm", List.of("curl", "jq"), Map.of("/etc/motd", "motd")), files)).isEqualTo(morning);
        assertThat(builderAt("2026-12-04T00:00:00Z").lockHash(source, files)).isNotEqualTo(morning);
        assertThat(builderAt("2026-12-03T06:00:00Z").lockHash(
                new TemplateSource.Debian("bookworm", List.of("jq"), Map.of()), Map.of())).isNotEqualTo(morning);
        Files.writeString(motd, "changed");
        assertThat(builderAt("2026-12-03T06:00:00Z").lockHash(source, files)).isNotEqualTo(morning);
        Files.delete(motd);
        assertThatThrownBy(() -> builderAt("2026-12-03T06:00:00Z").lockHash(source, files)).hasMessageContaining("does not exist");
    }
}

package io.mvm.core.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.mvm.model.ErrorCategory;
import io.mvm.model.Role;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TemplateConfigReaderTest {
    private static final TomlMapper TOML = new TomlMapper();

    static TemplateConfig parse(String text) {
        try {
            Map<String, Object> document = TOML.readValue(text, new TypeReference<>() {});
            return TemplateConfigReader.read("web.toml", text, document);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new AssertionError(e);
        }
    }

    static List<String> problems(String text) {
        try {
            parse(text);
        } catch (TemplateConfigException e) {
            assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT);
            return e.problems().stream().map(ConfigProblem::toString).toList();
        }
        throw new AssertionError("expected problems in:\n" + text);
    }

    @Test
    void anOciTemplateWithTwoVariantsGetsDefaultNamesAndProfile() {
        TemplateConfig config = parse("""
                template_id = "web"
                [source.oci]
                layout = "/srv/web-oci"
                ref = "v2"

                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 256

                [[variants]]
                name = "edge"
                role = "gateway"
                profile = "tiny"
                vcpus = 2
                mem_mib = 512
                data_disk_mib = 64
                """);
        assertThat(config.id()).isEqualTo(new TemplateId("web"));
        assertThat(config.profile()).isEqualTo("minimal");
        assertThat(config.source()).isEqualTo(new TemplateSource.Oci(
                new TemplateSource.Location.LayoutDirectory("/srv/web-oci"), Optional.of("v2")));
        assertThat(config.variants()).containsExactly(
                new TemplateVariant("web-worker", Role.WORKER, "minimal", 1, 256, 0),
                new TemplateVariant("edge", Role.GATEWAY, "tiny", 2, 512, 64));
        assertThat(config.variant(Role.GATEWAY).name()).isEqualTo("edge");
        assertThatThrownBy(() -> config.variant(Role.BUILDER)).hasMessageContaining("no variant for role builder");
    }

    @Test
    void debianAndNixSourcesAndDottedKeys() {
        TemplateConfig debian = parse("""
                template_id = "tools"
                source.debian.suite = "bookworm"
                source.debian.packages = ["jq", "curl"]
                source.debian.files = { "/etc/motd" = "motd.txt" }
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 128
                """);
        assertThat(debian.source()).isEqualTo(new TemplateSource.Debian("bookworm", List.of("jq", "curl"), Map.of("/etc/motd", "motd.txt")));

        TemplateConfig nix = parse("""
                template_id = "nixy"
                [source.nix]
                flake = "."
                profile = "python"
                [[variants]]
                role = "builder"
                vcpus = 4
                mem_mib = 4096
                """);
        assertThat(nix.source()).isEqualTo(new TemplateSource.Nix("."));
        assertThat(nix.profile()).isEqualTo("python");
        assertThat(nix.variants().getFirst().profile()).isEqualTo("python");
    }

    @Test
    void everyProblemIsListedWithTheLineToEdit() {
        List<String> problems = problems("""
                template_id = "Web Site"
                colour = "blue"
                [source.oci]
                layout = "/a"
                archive = "/b.tar"

                [[variants]]
                role = "worker"
                vcpus = 0
                mem_mib = 256

                [[variants]]
                role = "worker"
                mem_mib = "lots"
                """);
        assertThat(problems).containsExactly(
                "line 1: template_id 'Web Site' is not valid (1-63 of a-z 0-9 _ -, starting with a letter or digit)",
                "line 2: unknown key 'colour' (expected [profile, snapshot, source, template_id, variants])",
                "line 3: source.oci needs exactly one of layout = \"<OCI layout directory>\", archive = \"<OCI or docker-save tar>\""
                        + " or image = \"<skopeo reference, e.g. docker://registry/app:1.0>\"",
                "line 9: vcpus must be an integer from 1 to 32, got 0",
                "line 12: variants[1] needs vcpus (an integer from 1 to 32)",
                "line 13: role worker has more than one variant",
                "line 14: mem_mib must be an integer from 64 to 262144, got \"lots\"");
    }

    @Test
    void missingPiecesPointAtTheTopOrTheirTable() {
        assertThat(problems("profile = \"minimal\"\n")).containsExactly(
                "line 1: the file needs template_id",
                "line 1: a [source] is required: one of [source.oci], [source.debian], [source.nix]",
                "line 1: at least one [[variants]] is required");
        assertThat(problems("""
                template_id = "x"
                [source.oci]
                layout = "/a"
                [source.nix]
                flake = "."
                [[variants]]
                role = "pilot"
                vcpus = 1
                mem_mib = 64
                """)).containsExactly(
                "line 4: source has more than one builder (oci, nix); pick one",
                "line 7: unknown role 'pilot' (expected one of [gateway, builder, worker, capability-imessage])");
    }

    @Test
    void aRegistryImageIsASkopeoReferenceWithoutRef() {
        TemplateConfig config = parse("""
                template_id = "web"
                [source.oci]
                image = "docker://registry.example/web:1.0"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 64
                """);
        assertThat(config.source()).isEqualTo(new TemplateSource.Oci(
                new TemplateSource.Location.Registry("docker://registry.example/web:1.0"), Optional.empty()));
        assertThat(problems("""
                template_id = "web"
                [source.oci]
                image = "registry.example/web"
                ref = "1.0"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 64
                """)).containsExactly(
                "line 3: image 'registry.example/web' is not a skopeo reference (transport:name, e.g. docker://registry/app:1.0)",
                "line 4: ref picks an image in a layout or archive; with image = the reference names it already");
    }

    @Test
    void multiLineStringsDoNotConfuseTheLineScanner() {
        List<String> problems = problems("""
                template_id = "x"
                profile = \"\"\"
                vcpus = 3
                \"\"\"
                [source.oci]
                archive = "/a.tar"
                [[variants]]
                role = "worker"
                vcpus = 99
                mem_mib = 64
                """);
        assertThat(problems).contains("line 9: vcpus must be an integer from 1 to 32, got 99");
    }

    @Test
    void debianGuestPathsMustBeAbsoluteAndClean() {
        assertThat(problems("""
                template_id = "x"
                [source.debian]
                packages = ["jq", "Bad Name"]
                files = { "etc/x" = "a", "/etc/../../y" = "b" }
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 64
                """)).containsExactlyInAnyOrder(
                "line 3: 'Bad Name' in packages is not a Debian package name",
                "line 4: guest path 'etc/x' must be absolute and without '..'",
                "line 4: guest path '/etc/../../y' must be absolute and without '..'");
    }

    @Test
    void aSyntaxErrorHasTheSameShape() {
        TemplateConfigException e = TemplateConfigReader.syntaxError("web.toml", 3, "expected '='");
        assertThat(e.getMessage()).isEqualTo("web.toml: 1 problem; line 3: expected '='");
    }

    @Test
    void aSnapshotTableGivesTheReadinessCommandAndItsTimeouts() {
        TemplateConfig config = parse("""
                template_id = "web"
                [source.oci]
                layout = "/srv/web-oci"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 256
                [snapshot]
                readiness = ["/app/ready", "--port", "8080"]
                readiness_timeout = 45
                drain_timeout = 3
                nic = true
                """);
        assertThat(config.snapshot().nic()).isTrue();
        assertThat(config.snapshot().readiness()).contains(List.of("/app/ready", "--port", "8080"));
        assertThat(config.snapshot().readinessTimeout()).isEqualTo(java.time.Duration.ofSeconds(45));
        assertThat(config.snapshot().drainTimeout()).isEqualTo(java.time.Duration.ofSeconds(3));
    }

    @Test
    void withoutASnapshotTableOnlyHealthIsAwaited() {
        TemplateConfig config = parse("""
                template_id = "web"
                [source.oci]
                layout = "/srv/web-oci"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 256
                """);
        assertThat(config.snapshot()).isEqualTo(TemplateSnapshotSettings.DEFAULTS);
        assertThat(config.snapshot().readiness()).isEmpty();
        assertThat(config.snapshot().readinessTimeout()).isEqualTo(java.time.Duration.ofSeconds(120));
        assertThat(config.snapshot().nic()).isFalse();
    }

    @Test
    void snapshotProblemsNameTheirLines() {
        assertThat(problems("""
                template_id = "web"
                [source.oci]
                layout = "/srv/web-oci"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 256

                [snapshot]
                readiness = "/app/ready"
                readiness_timeout = 0
                drain_timeout = 9999
                wait = true
                nic = "yes"
                """)).containsExactly(
                "line 10: readiness must be a non-empty list of strings, the command and its arguments (e.g. [\"/app/ready\", \"--quick\"]), got \"/app/ready\"",
                "line 11: readiness_timeout must be an integer from 1 to 3600, got 0",
                "line 12: drain_timeout must be an integer from 1 to 600, got 9999",
                "line 13: unknown key 'snapshot.wait' (expected [drain_timeout, nic, readiness, readiness_timeout])",
                "line 14: nic must be true or false, got \"yes\"");
        assertThat(problems("""
                template_id = "web"
                [source.oci]
                layout = "/srv/web-oci"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 256
                [snapshot]
                readiness = []
                """)).containsExactly(
                "line 9: readiness must be a non-empty list of strings, the command and its arguments (e.g. [\"/app/ready\", \"--quick\"]), got a list");
        assertThat(problems("""
                template_id = "web"
                snapshot = 5
                [source.oci]
                layout = "/srv/web-oci"
                [[variants]]
                role = "worker"
                vcpus = 1
                mem_mib = 256
                """)).containsExactly("line 2: snapshot must be a table ([snapshot])");
    }
}

package io.mvm.core.template;

import io.mvm.model.Role;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Turns a parsed template file into a {@link TemplateConfig}, or a {@link TemplateConfigException}
 * listing every problem with its line.
 *
 * <p>The syntax parse happens outside (the caller's TOML parser gives the document as nested
 * maps and lists), because core may not depend on a parser library; everything that decides
 * whether a template is valid happens here, once, for every caller (CLI, coordinator).
 *
 * <pre>
 * template_id = "web"
 * profile = "minimal"                 # default for variants that do not name one
 * [source.oci]                        # exactly one of [source.oci], [source.debian], [source.nix]
 * layout = "/srv/images/web"          # or archive = "web.tar" (optional ref = "latest"), or image = "docker://..."
 * [[variants]]
 * role = "worker"                     # name defaults to web-worker
 * vcpus = 1
 * mem_mib = 256
 * data_disk_mib = 64                  # optional, default 0
 * [snapshot]                          # optional: what 'template build --snapshot' waits for
 * readiness = ["/app/ready"]          # argv run in the guest until it exits 0
 * readiness_timeout = 120             # seconds (1-3600, default 120)
 * drain_timeout = 10                  # seconds (1-600, default 10)
 * nic = false                         # whether the snapshot (and so every clone) has a NIC
 * </pre>
 */
public final class TemplateConfigReader {
    private static final Pattern PROFILE = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final Pattern VARIANT_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final Pattern DEBIAN_PACKAGE = Pattern.compile("[a-z0-9][a-z0-9+.-]+");
    private static final Pattern DEBIAN_SUITE = Pattern.compile("[a-z0-9][a-z0-9.-]*");
    private static final Set<String> TOP_KEYS = Set.of("template_id", "source", "profile", "variants", "snapshot");
    private static final Set<String> VARIANT_KEYS = Set.of("name", "role", "profile", "vcpus", "mem_mib", "data_disk_mib");
    static final int MAX_VCPUS = 32;
    static final int MIN_MEM_MIB = 64;
    static final int MAX_MEM_MIB = 256 * 1024;
    static final int MAX_DATA_DISK_MIB = 1024 * 1024;

    private final String sourceName;
    private final TomlKeyLines lines;
    private final List<ConfigProblem> problems = new ArrayList<>();
    private Optional<String> nixProfile = Optional.empty();

    private TemplateConfigReader(String sourceName, String text) {
        this.sourceName = sourceName;
        this.lines = TomlKeyLines.scan(text);
    }

    /**
     * @param sourceName how to name the file in the error (its path)
     * @param text       the file's text, for line numbers
     * @param document   the same text parsed into maps, lists, strings, numbers and booleans
     */
    public static TemplateConfig read(String sourceName, String text, Map<String, ?> document) {
        return new TemplateConfigReader(sourceName, text).read(document);
    }

    /** A syntax error the parser found: reported in the same shape as every other problem. */
    public static TemplateConfigException syntaxError(String sourceName, int line, String message) {
        return new TemplateConfigException(sourceName, List.of(new ConfigProblem(Math.max(1, line), message)));
    }

    private TemplateConfig read(Map<String, ?> document) {
        unknownKeys("", document, TOP_KEYS);
        Optional<TemplateId> id = requiredString(document, "", "template_id").flatMap(value -> {
            if (!TemplateId.isValid(value)) {
                problem("template_id", "template_id '" + value + "' is not valid (1-63 of a-z 0-9 _ -, starting with a letter or digit)");
                return Optional.empty();
            }
            return Optional.of(new TemplateId(value));
        });
        Optional<String> declaredProfile = optionalString(document, "", "profile");
        Optional<TemplateSource> source = source(document.get("source"));
        if (declaredProfile.isPresent() && nixProfile.isPresent() && !declaredProfile.equals(nixProfile)) {
            problem("source.nix.profile", "source.nix.profile '" + nixProfile.get() + "' disagrees with profile '"
                    + declaredProfile.get() + "'; write it once");
        }
        String profile = declaredProfile.or(() -> nixProfile).orElse(TemplateConfig.DEFAULT_PROFILE);
        if (!PROFILE.matcher(profile).matches()) {
            problem(declaredProfile.isPresent() ? "profile" : "source.nix.profile", "profile '" + profile + "' is not valid (a-z 0-9 _ -)");
        }
        List<TemplateVariant> variants = variants(document.get("variants"), id.map(TemplateId::value).orElse("template"), profile);
        TemplateSnapshotSettings snapshot = snapshot(document.get("snapshot"));
        if (!problems.isEmpty()) {
            Collections.sort(problems);
            throw new TemplateConfigException(sourceName, problems);
        }
        return new TemplateConfig(id.orElseThrow(), source.orElseThrow(), profile, variants, snapshot);
    }

    private TemplateSnapshotSettings snapshot(Object value) {
        if (value == null) {
            return TemplateSnapshotSettings.DEFAULTS;
        }
        if (!(value instanceof Map<?, ?> raw)) {
            problem("snapshot", "snapshot must be a table ([snapshot])");
            return TemplateSnapshotSettings.DEFAULTS;
        }
        Map<String, ?> body = asStringMap(raw);
        unknownKeys("snapshot", body, Set.of("readiness", "readiness_timeout", "drain_timeout", "nic"));
        Object rawNic = body.get("nic");
        boolean nic = false;
        if (rawNic instanceof Boolean b) {
            nic = b;
        } else if (rawNic != null) {
            problem("snapshot.nic", "nic must be true or false, got " + render(rawNic));
        }
        Optional<List<String>> readiness = Optional.empty();
        Object rawReadiness = body.get("readiness");
        if (rawReadiness != null) {
            if (rawReadiness instanceof List<?> list && !list.isEmpty()
                    && list.stream().allMatch(a -> a instanceof String s && !s.contains("\0"))
                    && !((String) list.getFirst()).isBlank()) {
                readiness = Optional.of(list.stream().map(String.class::cast).toList());
            } else {
                problem("snapshot.readiness", "readiness must be a non-empty list of strings, the command and its arguments"
                        + " (e.g. [\"/app/ready\", \"--quick\"]), got " + render(rawReadiness));
            }
        }
        OptionalInt readinessTimeout = integer(body, "snapshot", "readiness_timeout", false, 1, 3600,
                TemplateSnapshotSettings.DEFAULT_READINESS_TIMEOUT_SECONDS);
        OptionalInt drainTimeout = integer(body, "snapshot", "drain_timeout", false, 1, 600,
                TemplateSnapshotSettings.DEFAULT_DRAIN_TIMEOUT_SECONDS);
        if (body.containsKey("readiness_timeout") && rawReadiness == null) {
            problem("snapshot.readiness_timeout", "readiness_timeout without readiness: give the command to wait for");
        }
        return new TemplateSnapshotSettings(readiness,
                java.time.Duration.ofSeconds(readinessTimeout.present ? readinessTimeout.value : TemplateSnapshotSettings.DEFAULT_READINESS_TIMEOUT_SECONDS),
                java.time.Duration.ofSeconds(drainTimeout.present ? drainTimeout.value : TemplateSnapshotSettings.DEFAULT_DRAIN_TIMEOUT_SECONDS),
                nic);
    }

    private Optional<TemplateSource> source(Object value) {
        if (value == null) {
            problem("source", "a [source] is required: one of [source.oci], [source.debian], [source.nix]");
            return Optional.empty();
        }
        if (!(value instanceof Map<?, ?> table)) {
            problem("source", "source must be a table ([source.oci], [source.debian] or [source.nix])");
            return Optional.empty();
        }
        Map<String, ?> source = asStringMap(table);
        List<String> kinds = source.keySet().stream().filter(List.of("oci", "debian", "nix")::contains).toList();
        unknownKeys("source", source, Set.of("oci", "debian", "nix"));
        if (kinds.size() != 1) {
            if (kinds.isEmpty()) {
                problem("source", "source needs exactly one of [source.oci], [source.debian], [source.nix]");
            } else {
                problem("source." + kinds.get(1), "source has more than one builder (" + String.join(", ", kinds) + "); pick one");
            }
            return Optional.empty();
        }
        String kind = kinds.getFirst();
        String at = "source." + kind;
        if (!(source.get(kind) instanceof Map<?, ?> raw)) {
            problem(at, at + " must be a table");
            return Optional.empty();
        }
        Map<String, ?> body = asStringMap(raw);
        return switch (kind) {
            case "oci" -> oci(at, body);
            case "debian" -> debian(at, body);
            default -> nix(at, body);
        };
    }

    private Optional<TemplateSource> oci(String at, Map<String, ?> body) {
        unknownKeys(at, body, Set.of("layout", "archive", "image", "ref"));
        Optional<String> layout = optionalString(body, at, "layout");
        Optional<String> archive = optionalString(body, at, "archive");
        Optional<String> image = optionalString(body, at, "image");
        Optional<String> ref = optionalString(body, at, "ref");
        if (Stream.of(layout, archive, image).filter(Optional::isPresent).count() != 1) {
            problem(at, at + " needs exactly one of layout = \"<OCI layout directory>\", archive = \"<OCI or docker-save tar>\""
                    + " or image = \"<skopeo reference, e.g. docker://registry/app:1.0>\"");
            return Optional.empty();
        }
        TemplateSource.Location location = layout.<TemplateSource.Location>map(TemplateSource.Location.LayoutDirectory::new)
                .or(() -> archive.map(TemplateSource.Location.Archive::new))
                .orElseGet(() -> new TemplateSource.Location.Registry(image.orElseThrow()));
        String key = at + (layout.isPresent() ? ".layout" : archive.isPresent() ? ".archive" : ".image");
        if (location.text().isBlank()) {
            problem(key, "the OCI image location must not be empty");
        }
        if (image.isPresent()) {
            if (!image.get().matches("[a-z][a-z0-9-]*:.+")) {
                problem(key, "image '" + image.get() + "' is not a skopeo reference (transport:name, e.g. docker://registry/app:1.0)");
            }
            if (ref.isPresent()) {
                problem(at + ".ref", "ref picks an image in a layout or archive; with image = the reference names it already");
            }
        }
        return Optional.of(new TemplateSource.Oci(location, ref));
    }

    private Optional<TemplateSource> debian(String at, Map<String, ?> body) {
        unknownKeys(at, body, Set.of("suite", "packages", "files"));
        String suite = optionalString(body, at, "suite").orElse("bookworm");
        if (!DEBIAN_SUITE.matcher(suite).matches()) {
            problem(at + ".suite", "suite '" + suite + "' is not a Debian suite name");
        }
        List<String> packages = new ArrayList<>();
        Object rawPackages = body.get("packages");
        if (rawPackages != null) {
            if (rawPackages instanceof List<?> list) {
                for (Object p : list) {
                    if (p instanceof String name && DEBIAN_PACKAGE.matcher(name).matches()) {
                        packages.add(name);
                    } else {
                        problem(at + ".packages", "'" + p + "' in packages is not a Debian package name");
                    }
                }
            } else {
                problem(at + ".packages", "packages must be a list of package names");
            }
        }
        Map<String, String> files = new LinkedHashMap<>();
        Object rawFiles = body.get("files");
        if (rawFiles != null) {
            if (rawFiles instanceof Map<?, ?> map) {
                map.forEach((guest, host) -> {
                    String where = at + ".files." + guest;
                    if (!(host instanceof String hostPath) || hostPath.isBlank()) {
                        problem(where, "files maps a guest path to a host path (a string)");
                    } else if (!isCleanAbsolute(String.valueOf(guest))) {
                        problem(where, "guest path '" + guest + "' must be absolute and without '..'");
                    } else {
                        files.put(String.valueOf(guest), hostPath);
                    }
                });
            } else {
                problem(at + ".files", "files must be a table of \"/guest/path\" = \"host/path\"");
            }
        }
        return Optional.of(new TemplateSource.Debian(suite, packages, files));
    }

    private Optional<TemplateSource> nix(String at, Map<String, ?> body) {
        unknownKeys(at, body, Set.of("flake", "profile"));
        Optional<String> flake = requiredString(body, at, "flake");
        // profile is accepted here too, as the seeds write it next to the flake: it is the template's
        // default profile, and read() refuses a file that gives two different ones.
        nixProfile = optionalString(body, at, "profile");
        return flake.map(TemplateSource.Nix::new);
    }

    private List<TemplateVariant> variants(Object value, String templateId, String defaultProfile) {
        List<TemplateVariant> variants = new ArrayList<>();
        if (value == null) {
            problem("variants", "at least one [[variants]] is required");
            return variants;
        }
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            problem("variants", "variants must be a non-empty array of tables ([[variants]])");
            return variants;
        }
        Set<Role> roles = new HashSet<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            String at = "variants[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> raw)) {
                problem(at, at + " must be a table");
                continue;
            }
            Map<String, ?> body = asStringMap(raw);
            unknownKeys(at, body, VARIANT_KEYS);
            Optional<Role> role = requiredString(body, at, "role").flatMap(r -> {
                try {
                    return Optional.of(Role.parse(r));
                } catch (RuntimeException e) {
                    problem(at + ".role", "unknown role '" + r + "' (expected one of " + Role.wireNames() + ")");
                    return Optional.empty();
                }
            });
            boolean roleIsNew = role.map(roles::add).orElse(false);
            if (role.isPresent() && !roleIsNew) {
                problem(at + ".role", "role " + role.get() + " has more than one variant");
            }
            String name = optionalString(body, at, "name")
                    .orElse(templateId + "-" + role.map(Role::wireName).orElse("unknown"));
            if (!VARIANT_NAME.matcher(name).matches()) {
                problem(at + ".name", "variant name '" + name + "' is not valid (a-z 0-9 _ -)");
            } else if ((roleIsNew || body.containsKey("name")) && !names.add(name)) {
                // a name derived from a duplicate role is already reported as that role's problem
                problem(at + ".name", "variant name '" + name + "' is used twice");
            }
            String profile = optionalString(body, at, "profile").orElse(defaultProfile);
            if (!PROFILE.matcher(profile).matches()) {
                problem(at + ".profile", "profile '" + profile + "' is not valid (a-z 0-9 _ -)");
            }
            OptionalInt vcpus = integer(body, at, "vcpus", true, 1, MAX_VCPUS);
            OptionalInt mem = integer(body, at, "mem_mib", true, MIN_MEM_MIB, MAX_MEM_MIB);
            OptionalInt disk = integer(body, at, "data_disk_mib", false, 0, MAX_DATA_DISK_MIB);
            if (role.isPresent() && vcpus.present && mem.present && disk.present) {
                variants.add(new TemplateVariant(name, role.get(), profile, vcpus.value, mem.value, disk.value));
            }
        }
        return variants;
    }

    /** Like java.util.OptionalInt, but a missing optional key reads as present with its default. */
    private record OptionalInt(boolean present, int value) {}

    private OptionalInt integer(Map<String, ?> body, String at, String key, boolean required, int min, int max) {
        return integer(body, at, key, required, min, max, min);
    }

    private OptionalInt integer(Map<String, ?> body, String at, String key, boolean required, int min, int max, int fallback) {
        Object value = body.get(key);
        String path = at + "." + key;
        if (value == null) {
            if (required) {
                problem(at, at + " needs " + key + " (an integer from " + min + " to " + max + ")");
                return new OptionalInt(false, 0);
            }
            return new OptionalInt(true, fallback);
        }
        if (value instanceof Integer || value instanceof Long || value instanceof BigInteger || value instanceof Short) {
            BigInteger number = new BigInteger(value.toString());
            if (number.compareTo(BigInteger.valueOf(min)) >= 0 && number.compareTo(BigInteger.valueOf(max)) <= 0) {
                return new OptionalInt(true, number.intValueExact());
            }
        }
        problem(path, key + " must be an integer from " + min + " to " + max + ", got " + render(value));
        return new OptionalInt(false, 0);
    }

    private Optional<String> requiredString(Map<String, ?> body, String at, String key) {
        Optional<String> value = optionalString(body, at, key);
        if (value.isEmpty() && !body.containsKey(key)) {
            problem(at, (at.isEmpty() ? "the file" : at) + " needs " + key);
        }
        return value;
    }

    private Optional<String> optionalString(Map<String, ?> body, String at, String key) {
        Object value = body.get(key);
        if (value == null) {
            return Optional.empty();
        }
        if (value instanceof String s) {
            return Optional.of(s);
        }
        problem(at.isEmpty() ? key : at + "." + key, key + " must be a string, got " + render(value));
        return Optional.empty();
    }

    private void unknownKeys(String at, Map<String, ?> body, Set<String> known) {
        for (String key : body.keySet()) {
            if (!known.contains(key)) {
                String path = at.isEmpty() ? key : at + "." + key;
                problem(path, "unknown key '" + path + "' (expected " + known.stream().sorted().toList() + ")");
            }
        }
    }

    private void problem(String path, String message) {
        problems.add(new ConfigProblem(lines.lineOf(path), message));
    }

    private static boolean isCleanAbsolute(String path) {
        return path.startsWith("/") && !List.of(path.split("/")).contains("..") && !path.contains("\0");
    }

    private static String render(Object value) {
        return value instanceof String s ? "\"" + s + "\"" : value instanceof Map ? "a table" : value instanceof List ? "a list" : String.valueOf(value);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, ?> asStringMap(Map<?, ?> map) {
        return (Map<String, ?>) map;
    }
}

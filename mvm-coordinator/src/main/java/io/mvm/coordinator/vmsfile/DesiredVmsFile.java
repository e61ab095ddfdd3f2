package io.mvm.coordinator.vmsfile;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import io.mvm.core.vms.VmSpec;
import io.mvm.core.vms.VmSpecDraft;
import io.mvm.coordinator.vms.VmJobService;
import io.mvm.core.vms.VmSpecException;
import io.mvm.core.vms.VmSpecs;
import io.mvm.model.MvmException;
import io.mvm.model.TenantId;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The desired-VMs file: the seed's {@code {vm_id, tenant, spec}} list in TOML, one {@code [[vm]]}
 * table per VM:
 *
 * <pre>
 * [[vm]]
 * vm_id = "web-api"
 * tenant = "production"            # optional, defaults to vm_id
 * [vm.spec]
 * cmd = ["/app/bin/server"]
 * env = { MIX_ENV = "prod" }
 * resources = { vcpu = 2, mem_mb = 512 }
 * lifecycle = "service"
 * warm_pool = { min = 2, max = 5 }
 * </pre>
 *
 * Parsing reports every problem with the line of the {@code [[vm]]} table it is in (or the line
 * of a TOML syntax error), so a file is accepted whole or not at all.
 */
public final class DesiredVmsFile {
    /** One declared VM; {@code line} is where its {@code [[vm]]} table starts. */
    public record Entry(String vmId, Optional<TenantId> tenant, VmSpec spec, int line) {}

    private static final Pattern VM_TABLE = Pattern.compile("^\\s*\\[\\[\\s*vm\\s*]]\\s*(#.*)?$");
    private static final TomlMapper TOML = new TomlMapper();
    private static final ObjectMapper DRAFTS = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    private DesiredVmsFile() {}

    /** Reads and parses a file; a missing or unreadable file is an error naming it. */
    public static List<Entry> read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw MvmException.invalid("desired-VMs file " + file + " does not exist");
        } catch (IOException e) {
            throw MvmException.invalid("cannot read desired-VMs file " + file + ": " + e.getMessage());
        }
        return parse(text, file.toString());
    }

    /** Parses a file's text; throws a {@link VmSpecException} listing every problem, each with its line. */
    public static List<Entry> parse(String text, String name) {
        JsonNode root;
        try {
            root = TOML.readTree(text);
        } catch (JacksonException e) {
            int line = e.getLocation() == null ? 0 : e.getLocation().getLineNr();
            // The TOML lexer reports where it stood when it gave up: at column 1 that is just past
            // the newline that ended the offending line, so the problem is on the line before.
            if (e.getLocation() != null && e.getLocation().getColumnNr() <= 1 && line > 1) {
                line--;
            }
            throw new VmSpecException(List.of(name + ":" + line + ": TOML syntax: " + e.getOriginalMessage()));
        }
        List<Integer> tableLines = new ArrayList<>();
        List<String> lines = text.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            if (VM_TABLE.matcher(lines.get(i)).matches()) {
                tableLines.add(i + 1);
            }
        }
        List<String> problems = new ArrayList<>();
        for (Iterator<String> keys = root.fieldNames(); keys.hasNext(); ) {
            String key = keys.next();
            if (!key.equals("vm")) {
                problems.add(name + ": unknown top-level key '" + key + "' (the file holds [[vm]] tables only)");
            }
        }
        JsonNode vms = root.path("vm");
        if (!vms.isMissingNode() && !vms.isArray()) {
            problems.add(name + ": 'vm' must be an array of tables ([[vm]])");
            throw new VmSpecException(problems);
        }
        List<Entry> entries = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < vms.size(); i++) {
            JsonNode vm = vms.get(i);
            int line = i < tableLines.size() ? tableLines.get(i) : 0;
            String at = name + ":" + line + ": vm[" + i + "]";
            for (Iterator<String> keys = vm.fieldNames(); keys.hasNext(); ) {
                String key = keys.next();
                if (!Set.of("vm_id", "tenant", "spec").contains(key)) {
                    problems.add(at + ": unknown key '" + key + "' (expected vm_id, tenant, spec)");
                }
            }
            String vmId = vm.path("vm_id").isTextual() ? vm.get("vm_id").asText() : null;
            if (vmId == null) {
                problems.add(at + ": vm_id is required (a string)");
            } else {
                try {
                    VmJobService.validJobId(vmId);
                    if (!seen.add(vmId)) {
                        problems.add(at + ": vm_id '" + vmId + "' is declared twice");
                    }
                } catch (MvmException e) {
                    problems.add(at + ": " + e.getMessage());
                }
            }
            Optional<TenantId> tenant = Optional.empty();
            if (vm.has("tenant")) {
                try {
                    tenant = Optional.of(TenantId.of(vm.get("tenant").asText()));
                } catch (MvmException e) {
                    problems.add(at + ": " + e.getMessage());
                }
            }
            VmSpecDraft draft;
            try {
                draft = vm.has("spec") ? DRAFTS.treeToValue(vm.get("spec"), VmSpecDraft.class) : null;
            } catch (JacksonException e) {
                problems.add(at + ".spec: " + e.getOriginalMessage().replace('\n', ' '));
                continue;
            }
            try {
                VmSpec spec = VmSpecs.validate(draft, "spec");
                if (vmId != null) {
                    entries.add(new Entry(vmId, tenant, spec, line));
                }
            } catch (VmSpecException e) {
                e.problems().forEach(p -> problems.add(at + ": " + p));
            }
        }
        if (!problems.isEmpty()) {
            throw new VmSpecException(problems);
        }
        return entries;
    }
}

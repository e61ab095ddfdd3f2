package io.mvm.cli.vms;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.cli.client.ClientOptions;
import io.mvm.cli.client.Table;
import io.mvm.coordinator.vmsfile.DesiredVmsFile;
import io.mvm.coordinator.vms.VmJobService;
import io.mvm.core.vms.VmSpecException;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code mvm vms run|list|get|rm|stats|validate}: the {@code /vms} API and the desired-VMs file. */
@Command(name = "vms", description = "Jobs: one VM per job, by spec (the /vms API and the desired-VMs file).",
        subcommands = {VmsCommand.Run.class, VmsCommand.ListJobs.class, VmsCommand.Get.class, VmsCommand.Remove.class,
                VmsCommand.Stats.class, VmsCommand.Validate.class})
public final class VmsCommand {

    static void printJob(PrintWriter out, JsonNode v) {
        out.println("job:      " + v.get("job_id").asText() + "  (tenant " + v.get("tenant").asText() + ", "
                + v.get("source").asText() + ")");
        out.println("vm:       " + text(v, "vm_id") + "  status: " + v.get("status").asText() + "  node: "
                + text(v, "node") + "  ip: " + text(v, "ip"));
        JsonNode s = v.get("spec");
        out.println("spec:     " + s.get("cmd") + ", " + s.get("resources").get("vcpu").asInt() + " vCPU, "
                + s.get("resources").get("mem_mb").asLong() + " MB, " + s.get("lifecycle").asText()
                + (s.get("secret_names").isEmpty() ? "" : ", secrets " + s.get("secret_names")));
        out.println("hash:     " + v.get("spec_hash").asText());
        if (v.hasNonNull("pending_reason")) {
            out.println("waiting:  " + v.get("pending_reason").asText());
        }
        if (v.hasNonNull("last_error")) {
            out.println("error:    " + v.get("last_error").asText());
        }
        if (v.hasNonNull("exit_code")) {
            out.println("finished: exit " + v.get("exit_code").asInt() + " at " + text(v, "finished_at"));
            out.println("output (tail):");
            out.println(v.path("output_tail").asText(""));
        }
        out.flush();
    }

    private static String text(JsonNode n, String field) {
        return n.hasNonNull(field) ? n.get(field).asText() : "-";
    }

    @Command(name = "run", description = {"Submit a job: its VM is claimed warm or booted (upsert by --job-id).",
            "The spec comes from --spec-file (JSON, the body's \"spec\") or from the options."})
    static final class Run implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Option(names = "--job-id", paramLabel = "ID", description = "The job's id (generated when absent).") String jobId;
        @Option(names = "--tenant", paramLabel = "TENANT", description = "Its tenant (default: the job id).") String tenant;
        @Option(names = "--spec-file", paramLabel = "FILE", description = "The spec as JSON.") Path specFile;
        @Option(names = "--cmd", paramLabel = "ARG", description = "The command, one argument per --cmd.") List<String> cmd;
        @Option(names = "--env", paramLabel = "NAME=VALUE", description = "Environment (repeatable).") Map<String, String> env;
        @Option(names = "--secret-file", paramLabel = "NAME=PATH",
                description = "A secret read from PATH (repeatable; never shown again).") Map<String, Path> secretFiles;
        @Option(names = "--vcpu", paramLabel = "N", defaultValue = "1", description = "vCPUs (default ${DEFAULT-VALUE}).")
        int vcpu;
        @Option(names = "--mem", paramLabel = "MB", defaultValue = "256", description = "Memory in MB (default ${DEFAULT-VALUE}).")
        long mem;
        @Option(names = "--lifecycle", paramLabel = "L", defaultValue = "service",
                description = "service, job or daemon (default ${DEFAULT-VALUE}).") String lifecycle;
        @Option(names = "--template", paramLabel = "NAME", description = "Template to run.") String template;
        @Option(names = "--warm-min", paramLabel = "N", description = "Warm VMs to keep for this spec.") Integer warmMin;
        @Option(names = "--warm-max", paramLabel = "N", description = "At most this many warm VMs.") Integer warmMax;
        @Option(names = "--wait", description = "Wait until the VM runs.") boolean waitRunning;
        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s",
                description = "How long --wait waits (30s, 500ms, 2m; default ${DEFAULT-VALUE}).") String timeout;

        @Override
        public void run() {
            Map<String, Object> body = new LinkedHashMap<>();
            if (jobId != null) body.put("job_id", jobId);
            if (tenant != null) body.put("tenant", tenant);
            body.put("spec", specFile != null ? readSpec(specFile) : specFromOptions());
            var coordinator = client.client();
            JsonNode submitted = coordinator.post("vms", body);
            JsonNode vm = submitted.get("vm");
            String id = submitted.get("job_id").asText();
            if (waitRunning) {
                vm = coordinator.get("vms/" + id + "?wait=running&timeout=" + timeout);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, waitRunning ? vm : submitted);
                return;
            }
            out.println(submitted.get("outcome").asText().replace('_', ' ') + " (tier " + submitted.get("tier").asText()
                    + ", " + submitted.get("claim_ms").asLong() + " ms"
                    + (submitted.path("claim_phases_ms").isEmpty() ? "" : "; on the node " + submitted.get("claim_phases_ms"))
                    + ")");
            if (submitted.hasNonNull("claim_miss")) {
                out.println("a warm VM could not serve it (" + submitted.get("claim_miss").asText() + "): cold boot");
            }
            printJob(out, vm);
        }

        private Object specFromOptions() {
            if (cmd == null || cmd.isEmpty()) {
                throw MvmException.invalid("give the command with --cmd ARG (repeat for each argument) or a --spec-file");
            }
            Map<String, Object> s = new LinkedHashMap<>();
            if (template != null) s.put("template", template);
            s.put("cmd", cmd);
            if (env != null) s.put("env", env);
            if (secretFiles != null) {
                Map<String, String> secrets = new LinkedHashMap<>();
                secretFiles.forEach((k, p) -> secrets.put(k, read(p).strip()));
                s.put("secrets", secrets);
            }
            s.put("resources", Map.of("vcpu", vcpu, "mem_mb", mem));
            s.put("lifecycle", lifecycle);
            if (warmMin != null || warmMax != null) {
                Map<String, Object> warm = new LinkedHashMap<>();
                if (warmMin != null) warm.put("min", warmMin);
                if (warmMax != null) warm.put("max", warmMax);
                s.put("warm_pool", warm);
            }
            return s;
        }

        private static Object readSpec(Path file) {
            try {
                return new com.fasterxml.jackson.databind.ObjectMapper().readTree(read(file));
            } catch (IOException e) {
                throw MvmException.invalid("spec file " + file + " is not JSON: " + e.getMessage());
            }
        }
    }

    static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw MvmException.invalid("cannot read " + file + ": " + e.getMessage());
        }
    }

    @Command(name = "list", description = "List jobs.")
    static final class ListJobs implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Mixin io.mvm.cli.client.ListOptions listing;

        @Override
        public void run() {
            JsonNode list = client.client().list("vms", listing.cap());
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, list);
                return;
            }
            Table table = new Table("JOB", "TENANT", "VM", "STATUS", "NODE", "IP", "SOURCE");
            for (JsonNode v : list.get("items")) {
                table.row(v.get("job_id").asText(), v.get("tenant").asText(), text(v, "vm_id"), v.get("status").asText(),
                        text(v, "node"), text(v, "ip"), v.get("source").asText());
            }
            table.print(out);
        }
    }

    @Command(name = "get", description = "Show a job.")
    static final class Get implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "JOB_ID") String jobId;
        @Option(names = "--wait", description = "Wait until its VM runs.") boolean waitRunning;
        @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = "60s",
                description = "How long --wait waits (default ${DEFAULT-VALUE}).") String timeout;

        @Override
        public void run() {
            String path = "vms/" + VmJobService.validJobId(jobId) + (waitRunning ? "?wait=running&timeout=" + timeout : "");
            JsonNode v = client.client().get(path);
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, v);
            } else {
                printJob(out, v);
            }
        }
    }

    @Command(name = "rm", description = "Delete a job (its VM is destroyed).")
    static final class Remove implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;
        @Parameters(paramLabel = "JOB_ID") String jobId;

        @Override
        public void run() {
            client.client().delete("vms/" + VmJobService.validJobId(jobId));
            PrintWriter out = spec.commandLine().getOut();
            out.println(client.json ? "{\"deleted\": \"" + jobId + "\"}" : "job " + jobId + " deleted");
            out.flush();
        }
    }

    @Command(name = "stats", description = "Jobs and warm VMs.")
    static final class Stats implements Runnable {
        @Spec CommandSpec spec;
        @Mixin ClientOptions client;

        @Override
        public void run() {
            JsonNode stats = client.client().get("stats");
            PrintWriter out = spec.commandLine().getOut();
            if (client.json) {
                ClientOptions.printJson(out, stats);
                return;
            }
            out.println("jobs: " + stats.get("summary").get("total_jobs").asInt() + "  warm VMs: "
                    + stats.get("summary").get("total_warm").asInt());
            Table jobs = new Table("JOB", "TENANT", "VM", "STATUS");
            stats.get("jobs").forEach(j -> jobs.row(j.get("job_id").asText(), j.get("tenant").asText(), text(j, "vm_id"),
                    j.get("status").asText()));
            jobs.print(out);
            if (!stats.get("warm_pool").isEmpty()) {
                Table warm = new Table("SPEC_HASH", "VM", "STATUS", "NODE");
                stats.get("warm_pool").forEach(w -> warm.row(w.get("spec_hash").asText().substring(0, 12),
                        w.get("vm_id").asText(), w.get("status").asText(), text(w, "node")));
                warm.print(out);
            }
        }
    }

    @Command(name = "validate", description = "Check a desired-VMs file without applying it (no coordinator needed).")
    static final class Validate implements Runnable {
        @Spec CommandSpec spec;
        @Parameters(paramLabel = "FILE") Path file;

        @Override
        public void run() {
            PrintWriter out = spec.commandLine().getOut();
            try {
                var entries = DesiredVmsFile.read(file);
                out.println(file + ": valid, " + entries.size() + " VM(s): "
                        + String.join(", ", entries.stream().map(DesiredVmsFile.Entry::vmId).toList()));
                out.flush();
            } catch (VmSpecException e) {
                PrintWriter err = spec.commandLine().getErr();
                e.problems().forEach(p -> err.println("error: " + p));
                err.flush();
                throw new MvmException(ErrorCategory.INVALID_ARGUMENT, file + ": " + e.problems().size()
                        + " problem(s); the file would be rejected whole");
            }
        }
    }
}

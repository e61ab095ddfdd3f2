package io.mvm.runtime.guest;

import io.mvm.model.MvmException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Pattern;

/** The requests the host can send to the guest agent, one per verb of the protocol. */
public sealed interface AgentRequest {

    String verb();

    List<AgentField> fields();

    /** Whether sending it twice is harmless, so it can be re-sent after the connection dropped. */
    boolean idempotent();

    record Health() implements AgentRequest {
        public String verb() {
            return "health";
        }

        public List<AgentField> fields() {
            return List.of();
        }

        public boolean idempotent() {
            return true;
        }
    }

    record Exec(GuestChannel.ExecRequest request) implements AgentRequest {
        private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

        public Exec {
            if (request.timeout() == null || request.timeout().isNegative() || request.timeout().isZero()) {
                throw MvmException.invalid("exec needs a positive timeout");
            }
            for (String name : request.env().keySet()) {
                if (!ENV_NAME.matcher(name).matches()) {
                    throw MvmException.invalid("'" + name + "' is not a valid environment variable name");
                }
            }
        }

        public String verb() {
            return "exec";
        }

        public List<AgentField> fields() {
            List<AgentField> fields = new ArrayList<>();
            for (String arg : request.argv()) {
                fields.add(AgentField.text("arg", arg));
            }
            new TreeMap<>(request.env()).forEach((k, v) -> fields.add(AgentField.text("env", k + "=" + v)));
            if (request.stdin().length > 0) {
                fields.add(new AgentField("stdin", request.stdin()));
            }
            fields.add(AgentField.text("timeout-ms", Long.toString(request.timeout().toMillis())));
            // The guest sends output lines while the command runs (a guest agent that predates
            // streaming ignores the field and puts the output in its final answer).
            fields.add(AgentField.text("stream", "1"));
            return fields;
        }

        public boolean idempotent() {
            return false;
        }
    }

    record Drain(Duration deadline) implements AgentRequest {
        public Drain {
            if (deadline == null || deadline.isNegative()) {
                throw MvmException.invalid("drain needs a deadline of zero or more");
            }
        }

        public String verb() {
            return "drain";
        }

        public List<AgentField> fields() {
            return List.of(AgentField.text("deadline-ms", Long.toString(deadline.toMillis())));
        }

        public boolean idempotent() {
            return true;
        }
    }

    record Workload() implements AgentRequest {
        public String verb() {
            return "workload";
        }

        public List<AgentField> fields() {
            return List.of();
        }

        public boolean idempotent() {
            return true;
        }
    }

    record ReloadSecrets() implements AgentRequest {
        public String verb() {
            return "reload-secrets";
        }

        public List<AgentField> fields() {
            return List.of();
        }

        public boolean idempotent() {
            return true;
        }
    }

    /**
     * Re-sending it is harmless: the guest applies the same identity again and bumps its generation
     * once more, and watchers of the generation only need to see it change.
     */
    record CloneIdentity(GuestIdentity identity) implements AgentRequest {
        public String verb() {
            return "clone-identity";
        }

        public List<AgentField> fields() {
            List<AgentField> fields = new ArrayList<>();
            fields.add(new AgentField("entropy", identity.entropy()));
            fields.add(AgentField.text("time", Long.toString(identity.now().getEpochSecond())));
            identity.hostname().ifPresent(h -> fields.add(AgentField.text("hostname", h)));
            identity.network().ifPresent(n -> {
                fields.add(AgentField.text("mac", n.mac()));
                fields.add(AgentField.text("ip", n.cidr()));
                if (n.gateway() != null) {
                    fields.add(AgentField.text("gw", n.gateway()));
                }
            });
            identity.machineId().ifPresent(id -> fields.add(AgentField.text("machine-id", id)));
            fields.add(AgentField.text("drives", Boolean.toString(identity.remountDrives())));
            identity.cmd().ifPresent(cmd -> {
                fields.add(AgentField.text("cmd", cmd));
                String lines = new TreeMap<>(identity.env()).entrySet().stream()
                        .map(e -> e.getKey() + "=" + e.getValue() + "\n").reduce("", String::concat);
                fields.add(AgentField.text("env", lines));
            });
            return fields;
        }

        public boolean idempotent() {
            return true;
        }
    }

    /** A key and its raw value; on the wire the value is base64, so it may hold any bytes. */
    record AgentField(String key, byte[] value) {
        public AgentField {
            value = value.clone();
        }

        public static AgentField text(String key, String value) {
            return new AgentField(key, value.getBytes(StandardCharsets.UTF_8));
        }

        public String text() {
            return new String(value, StandardCharsets.UTF_8);
        }

        @Override
        public byte[] value() {
            return value.clone();
        }

    }
}

package io.mvm.agent.relay;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.http.Context;
import io.mvm.runtime.guest.GuestChannel;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a streamed exec as newline-delimited JSON (docs/agent-protocol.md, "exec"): one line per
 * chunk of output as the guest sends it ({@code {"stream":"stdout","data_b64":"…"}}), flushed at
 * once, then one last line with the outcome ({@code exit_code}, {@code timed_out},
 * {@code truncated}) or, when the call failed after output was sent, {@code error}. Nothing is
 * committed before the first line, so a failure before any output is still an ordinary problem
 * response.
 */
final class ExecStreamWriter implements GuestChannel.ExecOutput {
    static final String MEDIA_TYPE = "application/x-ndjson";

    private final Context ctx;
    private final ObjectMapper json;
    private OutputStream out;

    ExecStreamWriter(Context ctx, ObjectMapper json) {
        this.ctx = ctx;
        this.json = json;
    }

    /** Whether the client asked for the output as it is produced. */
    static boolean wanted(Context ctx) {
        String accept = ctx.header("Accept");
        return accept != null && accept.contains(MEDIA_TYPE);
    }

    boolean started() {
        return out != null;
    }

    @Override
    public void write(GuestChannel.ExecStream stream, byte[] bytes) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("stream", stream.wireName());
        line.put("data_b64", Base64.getEncoder().encodeToString(bytes));
        line(line);
    }

    void finish(GuestChannel.ExecResult result) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("exit_code", result.exitCode());
        line.put("timed_out", result.timedOut());
        line.put("truncated", result.truncated());
        line(line);
    }

    void fail(int status, String detail) {
        line(Map.of("error", Map.of("status", status, "detail", detail)));
    }

    private void line(Map<String, Object> fields) {
        try {
            if (out == null) {
                ctx.status(200).contentType(MEDIA_TYPE);
                out = ctx.res().getOutputStream();
            }
            out.write(json.writeValueAsBytes(fields));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            // The caller went away: the exec call ends here (the guest's command runs to its timeout).
            throw new UncheckedIOException("the exec's caller stopped reading: " + e.getMessage(), e);
        }
    }
}

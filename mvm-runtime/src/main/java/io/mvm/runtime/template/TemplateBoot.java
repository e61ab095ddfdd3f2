package io.mvm.runtime.template;

import io.mvm.core.template.DefaultWorkload;
import io.mvm.core.template.TemplateId;
import io.mvm.model.MvmException;
import io.mvm.runtime.image.GuestImage;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What a VM of a template boots: its current revision's image, and the image's own workload
 * (Entrypoint/Cmd/WorkingDir, Env) unless a command is given; given env entries override the
 * image's. Used by {@code mvm vm run --template} and by the agent for pools naming a template.
 */
public record TemplateBoot(GuestImage image, String cmd, Map<String, String> env) {

    public static TemplateBoot of(Path dataDir, String template, String cmd, Map<String, String> env) {
        TemplateStore store = new TemplateStore(dataDir, InstantSource.system());
        TemplateId id = new TemplateId(template);
        TemplateStore.Current current = store.currentRevision(id).orElseThrow(() -> MvmException.notFound(
                "template " + template + " has no intact built revision on this host (mvm template build FILE --on-host)"));
        return of(current.revision(), current.image(), cmd, env);
    }

    /** The same for a revision already read. */
    public static TemplateBoot of(TemplateStore.Current current, String cmd, Map<String, String> env) {
        return of(current.revision(), current.image(), cmd, env);
    }

    /** A given revision whose files are in {@code image} (fetched from the coordinator, say). */
    public static TemplateBoot of(io.mvm.core.template.TemplateRevision revision, GuestImage image, String cmd,
                                  Map<String, String> env) {
        Optional<DefaultWorkload> workload = revision.workload();
        Map<String, String> merged = new LinkedHashMap<>(workload.map(DefaultWorkload::environment).orElse(Map.of()));
        merged.putAll(env);
        String command = cmd != null ? cmd : workload.flatMap(TemplateWorkloads::commandLine).orElse(null);
        return new TemplateBoot(image, command, merged);
    }
}

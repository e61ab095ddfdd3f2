package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.guest.AgentRequest.AgentField;
import io.mvm.runtime.guest.GuestChannel.ExecRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AgentProtocolTest {

    @Test
    void healthRequestIsOneLineWithVersionIdVerbAndEndMarker() {
        assertThat(AgentProtocol.encodeRequest(1, 42, new AgentRequest.Health())).isEqualTo("mvm 1 42 health .\n");
    }

    @Test
    void execRequestCarriesEachArgumentSeparatelyInBase64() {
        ExecRequest exec = new ExecRequest(List.of("printf", "a b", ""), Map.of("B", "2", "A", "x y"),
                "in".getBytes(StandardCharsets.UTF_8), Duration.ofMillis(1500));
        assertThat(AgentProtocol.encodeRequest(1, 7, new AgentRequest.Exec(exec)))
                .isEqualTo("mvm 1 7 exec arg=cHJpbnRm arg=YSBi arg= env=QT14IHk= env=Qj0y stdin=aW4= timeout-ms=MTUwMA== stream=MQ== .\n");
    }

    @Test
    void drainCarriesItsDeadlineInMilliseconds() {
        assertThat(AgentProtocol.encodeRequest(1, 3, new AgentRequest.Drain(Duration.ofSeconds(2))))
                .isEqualTo("mvm 1 3 drain deadline-ms=MjAwMA== .\n");
        assertThat(AgentProtocol.encodeRequest(1, 4, new AgentRequest.ReloadSecrets())).isEqualTo("mvm 1 4 reload-secrets .\n");
        assertThat(AgentProtocol.encodeRequest(1, 5, new AgentRequest.Workload())).isEqualTo("mvm 1 5 workload .\n");
    }

    @Test
    void answersDecodeToFields() {
        AgentProtocol.AgentAnswer answer = AgentProtocol.decodeAnswer("mvm 1 9 ok hostname=d2Vi uptime=MTIuNQ== empty= .");
        assertThat(answer.version()).isEqualTo(1);
        assertThat(answer.id()).isEqualTo(9);
        assertThat(answer.ok()).isTrue();
        assertThat(answer.required("hostname")).isEqualTo("web");
        assertThat(answer.text("uptime")).contains("12.5");
        assertThat(answer.text("empty")).contains("");
        assertThat(answer.text("missing")).isEmpty();
        assertThatThrownBy(() -> answer.required("missing")).isInstanceOf(GuestChannelException.class);
    }

    @Test
    void errorAnswersCarryAMessage() {
        String line = AgentProtocol.encodeAnswer(1, 2, false, List.of(AgentField.text("message", "unknown verb x"))).strip();
        AgentProtocol.AgentAnswer answer = AgentProtocol.decodeAnswer(line);
        assertThat(answer.ok()).isFalse();
        assertThat(answer.text("message")).contains("unknown verb x");
    }

    @Test
    void tornOrForeignLinesAreRejected() {
        for (String bad : List.of("", "mvm 1 2", "mvm 1 2 ok stdout=aGVsbG8", "xyz 1 2 ok .", "mvm one 2 ok .",
                "mvm 1 2 ok novalue .", "mvm 1 2 ok k=!!! .", "bG8= stderr= .")) {
            assertThatThrownBy(() -> AgentProtocol.decodeAnswer(bad)).as(bad).isInstanceOf(GuestChannelException.class);
        }
    }

    @Test
    void anotherProtocolVersionIsDecodedSoTheCallerCanSaySo() {
        assertThat(AgentProtocol.decodeAnswer("mvm 2 5 ok .").version()).isEqualTo(2);
    }

    @Test
    void badExecRequestsFailBeforeAnythingIsSent() {
        assertThatThrownBy(() -> new AgentRequest.Exec(new ExecRequest(List.of("true"), Map.of("BAD-NAME", "x"), null, Duration.ofSeconds(1))))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT));
        assertThatThrownBy(() -> new AgentRequest.Exec(new ExecRequest(List.of("true"), Map.of(), null, Duration.ZERO)))
                .isInstanceOfSatisfying(MvmException.class, e -> assertThat(e.category()).isEqualTo(ErrorCategory.INVALID_ARGUMENT));
        assertThatThrownBy(() -> new AgentRequest.Drain(Duration.ofSeconds(-1))).isInstanceOf(MvmException.class);
    }
}

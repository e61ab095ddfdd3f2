package io.mvm.runtime.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.runtime.guest.AgentRequest.AgentField;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Everyone on a node talks to a VM's agent over one connection: the agent socket takes one at a
 * time, so a second connection would wait behind a long exec (scripted here the same way: one
 * connection served at a time).
 */
class SharedGuestChannelsTest {
    private ScriptedSocketServer agent;
    private final Set<Integer> connections = ConcurrentHashMap.newKeySet();
    private final CountDownLatch releaseExec = new CountDownLatch(1);

    @BeforeEach
    void setUp() throws IOException {
        agent = new ScriptedSocketServer("mvm-shared-channel-", "agent.sock");
        agent.serve((n, in, out) -> {
            connections.add(n);
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) {
                    continue;
                }
                String[] words = line.split(" ");
                long id = Long.parseLong(words[2]);
                String answer;
                if (words[3].equals("exec")) {
                    Thread.ofVirtual().start(() -> {
                        try {
                            releaseExec.await(20, TimeUnit.SECONDS);
                            write(out, AgentProtocol.encodeAnswer(1, id, true, List.of(AgentField.text("exit", "0"),
                                    AgentField.text("timed-out", "false"))));
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    });
                    continue;
                }
                answer = AgentProtocol.encodeAnswer(1, id, true, List.of(AgentField.text("hostname", "vm-1"),
                        AgentField.text("uptime", "1.0"), AgentField.text("kernel", "6.1")));
                write(out, answer);
            }
        });
    }

    private static void write(java.io.OutputStream out, String answer) {
        synchronized (out) {
            try {
                out.write(answer.getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException e) {
                // the host went away
            }
        }
    }

    @AfterEach
    void tearDown() throws Exception {
        releaseExec.countDown();
        agent.close();
    }

    @Test
    void aHealthProbeIsAnsweredWhileAnotherCallersExecRunsOnTheSameConnection() throws Exception {
        SharedGuestChannels channels = new SharedGuestChannels();
        var exec = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try (GuestChannel channel = channels.connect(agent.socket())) {
                return channel.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(30), "sleep", "60"));
            }
        }, java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        try (GuestChannel probe = channels.connect(agent.socket())) {
            assertThat(probe.health(Duration.ofSeconds(5)).hostname()).isEqualTo("vm-1");
        }
        assertThat(exec).isNotDone();
        releaseExec.countDown();
        assertThat(exec.get(10, TimeUnit.SECONDS).exitCode()).isZero();
        assertThat(connections).as("the overlapping calls shared one connection").containsExactly(1);
        assertThat(channels.size()).as("the last view closed its connection: an idle process holds none").isZero();
        try (GuestChannel again = channels.connect(agent.socket())) {
            assertThat(again.health(Duration.ofSeconds(5)).hostname()).as("the next caller connects anew").isEqualTo("vm-1");
        }
        assertThat(connections).containsExactly(1, 2);
    }

    @Test
    void forgettingAVmClosesItsChannel() {
        SharedGuestChannels channels = new SharedGuestChannels();
        GuestChannel view = channels.connect(agent.socket());
        assertThat(view.health(Duration.ofSeconds(5)).hostname()).isEqualTo("vm-1");
        channels.forget(agent.socket());
        assertThat(channels.size()).isZero();
        assertThatThrownBy(() -> view.health(Duration.ofSeconds(1))).hasMessageContaining("closed");
    }
}

"""Retained messages beyond the queue limits, with a real client (paho-mqtt):
the daemon keeps 5,000 retained topics and runs with --max-queued-messages
100; a new subscription to "r/#" receives all 5,000 (they used to be pushed
into the client's outbox at subscribe time and cut at the limit: 100 of
them, silently), and a live message published on a topic right after the
subscription never arrives before that topic's retained message (per-topic
order, MQTT 4.6).
"""

import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duplex_fixture import Broker, PahoClient, require_module  # noqa: E402

TOPICS = 5000
LIVE = 20  # topics that also get a live message right after SUBSCRIBE


class RetainedBeyondQueueLimit(unittest.TestCase):
    def setUp(self):
        require_module("paho.mqtt.client", "paho-mqtt", "apt install python3-paho-mqtt")
        self.broker = Broker(listeners=("mqtt",),
                             extra_args=["--max-queued-messages", "100"]).start()
        if self.broker.is_peer:
            self.skipTest("duplex's --max-queued-messages")
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.stop()
        self.assertEqual(self.broker.stop(), 0, "broker exit status")

    def paho(self, name):
        c = PahoClient(self.broker.mqtt_port, "%s-%s" % (name, uuid.uuid4().hex[:6]))
        self.clients.append(c)
        return c

    def store(self, pub):
        for i in range(TOPICS):
            pub.client.publish("r/%d" % i, b"old-%d" % i, 1, True)
        # QoS 1 on one connection: once the last is acknowledged, all are stored.
        pub.publish("r/%d" % (TOPICS - 1), b"old-%d" % (TOPICS - 1), 1, True)

    def receive_all(self, sub, pub, qos):
        sub.subscribe("r/#", qos)
        for i in range(LIVE):
            pub.client.publish("r/%d" % (i * 97), b"new-%d" % (i * 97), qos, False)
        first = {}     # topic -> payload of the first message received on it
        retained = set()
        live = 0
        deadline = time.monotonic() + 60
        while (len(retained) < TOPICS or live < LIVE) and time.monotonic() < deadline:
            m = sub.get(timeout=min(5.0, max(0.1, deadline - time.monotonic())))
            if m is None:
                break
            first.setdefault(m.topic, m.payload)
            if m.payload.startswith(b"old-"):
                self.assertTrue(m.retain, m.topic)
                retained.add(m.topic)
            else:
                live += 1
        self.assertEqual(len(retained), TOPICS, "retained messages received")
        self.assertEqual(live, LIVE, "live messages received")
        for i in range(LIVE):
            t = "r/%d" % (i * 97)
            self.assertEqual(first[t], b"old-%d" % (i * 97),
                             "%s: the live message overtook the retained one" % t)

    def test_all_retained_arrive_qos1(self):
        pub = self.paho("pub")
        self.store(pub)
        self.receive_all(self.paho("sub1"), pub, 1)

    def test_all_retained_arrive_qos0(self):
        pub = self.paho("pub")
        self.store(pub)
        self.receive_all(self.paho("sub0"), pub, 0)


if __name__ == "__main__":
    unittest.main()

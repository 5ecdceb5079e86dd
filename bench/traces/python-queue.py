# A producer/consumer pipeline over a queue, then JSON round trips:
# objects made on one thread die on another.
import json, queue, threading
q = queue.Queue(maxsize=256)
def producer(n):
    for i in range(n):
        q.put({"id": i, "name": "item-%d" % i, "tags": [str(i % 7)] * (i % 5)})
    q.put(None)
def consumer(out):
    total = 0
    while True:
        item = q.get()
        if item is None:
            break
        total += len(json.dumps(item))
    out.append(total)
out = []
threads = [threading.Thread(target=producer, args=(300,)), threading.Thread(target=consumer, args=(out,))]
for t in threads: t.start()
for t in threads: t.join()
blob = json.dumps([{"k": i, "v": [i] * 20} for i in range(100)])
print(out[0], len(json.loads(blob)))

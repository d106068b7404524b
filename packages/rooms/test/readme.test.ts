// The README's example, as written there (console output collected instead of printed).
import { InBrowserHub } from '@vnf/in-browser-hub';
import { MultiplexHub } from '@vnf/multiplex-hub';
import { InBrowserRegistry } from '@vnf/registry';
import { Room } from '@vnf/rooms';
import { until } from '@vnf/conformance';

it('the README example runs as written', async () => {
  const lines: string[] = [];
  const log = (line: string): void => void lines.push(line);
  const hub = new MultiplexHub(new InBrowserHub());
  const registry = new InBrowserRegistry();

  function enter(eva: string, nick: string): Room {
    const room = new Room(hub.openEndpoint(eva), { registry: registry.connect(eva), name: 'lobby', info: { nick } });
    room.onMessage = ({ sourceEva, message }) => log(`${eva} got ${message} from ${sourceEva}`);
    room.on('join', (member) => log(`${eva} sees ${(member.info as { nick: string }).nick} join`));
    room.on('leave', (member) => log(`${eva} sees ${member.eva} leave`));
    return room;
  }

  const ann = enter('ann', 'Ann');
  const bob = enter('bob', 'Bob');
  await ann.join();
  await ann.setState('topic', 'cats');
  await bob.join();
  log(String(bob.state.get('topic')));
  bob.broadcast('hello, room');
  ann.send('bob', 'just for you');
  await until('the messages', 2000, () => lines.length >= 4);
  await bob.leave();
  await until('the leave', 2000, () => lines.includes('ann sees bob leave'));
  await ann.leave();
  await hub.close();
  // Each line once (the join at ann and bob's join() resolving have no order between them).
  expect(lines).toHaveLength(5);
  expect(new Set(lines)).toEqual(new Set(['cats', 'ann sees Bob join', 'ann got hello, room from bob', 'bob got just for you from ann', 'ann sees bob leave']));
});

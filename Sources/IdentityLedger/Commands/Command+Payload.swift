/// The canonical bytes of a command as the client sent it (before normalization),
/// hashed for `eventId` idempotency: same payload, same bytes.
extension Command {
    var canonicalPayload: [UInt8] {
        var w = BinaryWriter()
        func writeContext(_ context: CommandContext) {
            w.write(context.occurredAt != nil)
            if let at = context.occurredAt { w.write(signed: at.millisecondsSince1970) }
            w.write(optional: context.source)
        }
        func writeProperties(_ properties: [String: JSONValue]) {
            w.write(properties.keys.sorted()) { w, key in
                w.write(key)
                w.write(properties[key]!)
            }
        }
        switch self {
        case .identify(let command):
            w.write("identify")
            w.write(command.identifiers.sorted()) { $0.write($1) }
            w.write(command.access.sorted()) { $0.write($1) }
            writeProperties(command.properties)
            writeContext(command.context)
        case .update(let command):
            w.write("update")
            w.write(command.identifiers.sorted()) { $0.write($1) }
            writeProperties(command.properties)
            writeContext(command.context)
        case .merge(let command):
            w.write("merge")
            w.write(command.into.description)
            w.write(command.from.description)
            w.write(command.actor)
            w.write(optional: command.note)
            w.write(command.requireGuards)
            writeContext(command.context)
        case .detach(let command):
            w.write("detach")
            w.write(command.customer.description)
            w.write(command.identifier)
            w.write(command.actor)
            w.write(optional: command.note)
            w.write(command.accessOnly)
            writeContext(command.context)
        }
        return w.bytes
    }
}

"""What goes out, decided and rendered: editions (select and freeze the articles of a
period), each subscriber's selection, and the rendering of every mail the product sends
(digests, and the account mails in `notices`) through one renderer and one builder.

Reads the store; sends nothing.
"""

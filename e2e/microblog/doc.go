// Package microblog tests kaj's first customer end to end on the real
// engine: Microblog's production image built on the spot, deployed with
// MariaDB through kaj's REST API from the "Microblog + MySQL" template,
// then redeployed, cut off from its database, and deleted; and Microblog's
// own store and web tests run against a real MariaDB server.
package microblog

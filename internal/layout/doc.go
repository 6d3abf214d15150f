// Package layout holds no code: its test checks that the packages of fleetbook import each other
// only in the directions docs/ARCHITECTURE.md ("Packages and the direction of imports") allows,
// so a change that lets two rooms meet fails the build's tests instead of waiting for a review.
package layout
